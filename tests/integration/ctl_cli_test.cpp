// healthsweepctl (the real binary) against a real healthsweepd: status,
// targets with --state and --layer, target ID, reset and sweep with the
// bearer token, and every exit code (0, 1 refused or unknown, 2 usage or
// config, 3 nothing listening).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <regex>

#include "tests/integration/ctl_support.hpp"
#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// A daemon with one target that answers (HTTP 200) and one that refuses
// (TCP on a closed port), a token, and a config file for healthsweepctl that
// names the daemon's real port (the daemon's own says port 0).
struct CtlFleet {
  StatusServer alive{200};
  ClosedPort closed;
  TempDir shared;  // the token, named by both config files
  std::string token = shared.write("token", "ctl-test-token\n");
  Daemon daemon{"auth:\n  token_file: " + token + "\n"
                "targets:\n  static:\n"
                "    - { id: t-alive, http: \"" + alive.url() + "\" }\n"
                "    - { id: t-dead, tcp: \"127.0.0.1:" + std::to_string(closed.port()) + "\" }\n"
                "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, failure_threshold: 2 }\n"
                "remediation:\n  restart: { via: none }\n"};
  std::string ctl_config = shared.write(
      "ctl.yaml", "listen: 127.0.0.1:" + std::to_string(daemon.port()) + "\nauth:\n  token_file: token\n");

  CtlRun ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", ctl_config});
    return run_ctl(args);
  }
};

TEST(CtlCli, StatusShowsEverySubsystemAndTheFailSafe) {
  CtlFleet f;
  ASSERT_TRUE(eventually([&] { return state_of(f.daemon, "t-alive") == "online"; }, 10s)) << f.daemon.log();
  const auto r = f.ctl({"status"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_THAT(r.out, HasSubstr("daemon:    ok"));
  EXPECT_THAT(r.out, HasSubstr("fail-safe: inactive"));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nproactive +ok +\S+ +1m +20\d\d-)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nredis +disabled +- )"))) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b["))) << "no colour when stdout is not a terminal";

  const auto j = f.ctl({"status", "-o", "json"});
  ASSERT_EQ(j.code, 0) << describe(j);
  const auto o = boost::json::parse(j.out).as_object();
  EXPECT_EQ(o.at("status").as_string(), "ok");
  EXPECT_EQ(o.at("failsafe_active").as_bool(), false);
  EXPECT_EQ(o.at("subsystems").at("reactive").at("status").as_string(), "ok");
}

TEST(CtlCli, TargetsAsATableFilteredByStateAndLayer) {
  CtlFleet f;
  ASSERT_TRUE(eventually([&] {
    return state_of(f.daemon, "t-alive") == "online" && state_of(f.daemon, "t-dead") == "offline"; }, 10s))
      << f.daemon.log();
  const auto all = f.ctl({"targets"});
  ASSERT_EQ(all.code, 0) << describe(all);
  EXPECT_TRUE(std::regex_search(all.out, std::regex(R"(^ID +STATE +SINCE +RESTARTS +LAST EVIDENCE\n)"))) << all.out;
  EXPECT_TRUE(std::regex_search(all.out, std::regex(R"(\nt-alive +online +\d+(ms|s|m\d*s?) +0 +http: HTTP 200\n)")))
      << all.out;
  EXPECT_TRUE(std::regex_search(all.out, std::regex(R"(\nt-dead +offline +\S+ +0 +tcp: connect: Connection refused)")))
      << all.out;

  const auto offline = f.ctl({"targets", "--state", "offline"});
  ASSERT_EQ(offline.code, 0) << describe(offline);
  EXPECT_THAT(offline.out, HasSubstr("t-dead"));
  EXPECT_THAT(offline.out, Not(HasSubstr("t-alive")));
  const auto json = f.ctl({"targets", "--state=online", "--output=json"});
  ASSERT_EQ(json.code, 0) << describe(json);
  const auto list = boost::json::parse(json.out).as_array();
  ASSERT_EQ(list.size(), 1u) << json.out;
  EXPECT_EQ(list[0].at("id").as_string(), "t-alive");

  // One target a page: both rows only if the Link rel="next" was followed.
  const auto paged = f.ctl({"targets", "--chunk-size", "1", "-o", "json"});
  ASSERT_EQ(paged.code, 0) << describe(paged);
  const auto pages = boost::json::parse(paged.out).as_array();
  ASSERT_EQ(pages.size(), 2u) << paged.out;
  EXPECT_EQ(pages[0].at("id").as_string(), "t-alive");
  EXPECT_EQ(pages[1].at("id").as_string(), "t-dead");
  // ...because the daemon does answer one a page, naming the next.
  const auto one = f.daemon.get("/admin/targets?limit=1");
  EXPECT_EQ(boost::json::parse(one.body).as_array().size(), 1u) << one.body;
  ASSERT_TRUE(one.headers.contains("link")) << one.body;
  EXPECT_THAT(one.headers.at("link"), HasSubstr("rel=\"next\""));

  const auto proactive = f.ctl({"targets", "--layer", "proactive"});
  EXPECT_THAT(proactive.out, HasSubstr("EVIDENCE (proactive)"));
  EXPECT_THAT(proactive.out, HasSubstr("alive: http: HTTP 200"));
  EXPECT_THAT(proactive.out, HasSubstr("dead: tcp: connect: Connection refused"));
  const auto reactive = f.ctl({"targets", "--layer", "reactive"});
  EXPECT_EQ(reactive.code, 0) << describe(reactive);
  EXPECT_EQ(reactive.out, "") << "no target has reactive evidence";
  EXPECT_THAT(reactive.err, HasSubstr("No targets found."));
}

// Colour only on a terminal: script(1) gives healthsweepctl a pseudo-terminal.
TEST(CtlCli, StatesAreColouredOnATerminalUnlessNoColorIsSet) {
  CtlFleet f;
  ASSERT_TRUE(eventually([&] { return state_of(f.daemon, "t-alive") == "online"; }, 10s)) << f.daemon.log();
  auto on_terminal = [&](const std::vector<std::string>& env) {
    TempDir dir;
    Subprocess p({"/usr/bin/script", "-qec", std::string(HEALTHSWEEPCTL_PATH) + " --config " + f.ctl_config + " targets",
                  "/dev/null"}, dir.file("out"), env);
    EXPECT_EQ(p.wait_exit(60s), 0) << p.log();
    return p.log();
  };
  EXPECT_THAT(on_terminal({}), HasSubstr("\x1b[32monline\x1b[0m"));
  EXPECT_THAT(on_terminal({"NO_COLOR=1"}), Not(HasSubstr("\x1b[")));
}

TEST(CtlCli, OneTargetWithEveryLayersEvidenceAndUnknownTargetsExitOne) {
  CtlFleet f;
  ASSERT_TRUE(eventually([&] { return state_of(f.daemon, "t-dead") == "offline"; }, 10s)) << f.daemon.log();
  const auto r = f.ctl({"target", "t-dead"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_THAT(r.out, HasSubstr("ID:             t-dead\n"));
  EXPECT_THAT(r.out, HasSubstr("State:          offline for "));
  EXPECT_THAT(r.out, HasSubstr("Quarantined:    no\n"));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\n  proactive +dead: tcp: connect: Connection refused\n)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\n  passive +-\n)"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no postgres section"));
  const auto j = f.ctl({"target", "t-dead", "-o", "json"});
  EXPECT_EQ(boost::json::parse(j.out).at("state").as_string(), "offline") << describe(j);

  for (const char* command : {"target", "reset", "sweep"}) {
    const auto unknown = f.ctl({command, "no-such-target"});
    EXPECT_EQ(unknown.code, 1) << command << ": " << describe(unknown);
    EXPECT_THAT(unknown.err, HasSubstr("unknown target 'no-such-target'")) << command;
  }
}

TEST(CtlCli, ResetAndSweepCarryTheTokenAndAWrongOneExitsOne) {
  CtlFleet f;
  ASSERT_TRUE(eventually([&] { return state_of(f.daemon, "t-dead") == "offline"; }, 10s)) << f.daemon.log();
  const auto reset = f.ctl({"reset", "t-dead"});
  EXPECT_EQ(reset.code, 0) << describe(reset);
  EXPECT_THAT(reset.out, HasSubstr("target t-dead reset"));
  EXPECT_THAT(f.daemon.log(), HasSubstr("reset by admin"));
  const auto sweep = f.ctl({"sweep", "t-alive", "-o", "json"});
  EXPECT_EQ(sweep.code, 0) << describe(sweep);
  EXPECT_TRUE(boost::json::parse(sweep.out).at("accepted").as_bool()) << sweep.out;

  const auto wrong = f.daemon.dir().write("wrong", "not-the-token");
  const auto refused = f.ctl({"--token-file", wrong, "sweep", "t-alive"});
  EXPECT_EQ(refused.code, 1) << describe(refused);
  EXPECT_THAT(refused.err, HasSubstr("HTTP 401: missing or wrong bearer token"));
}

TEST(CtlCli, UsageAndConfigErrorsExitTwo) {
  TempDir dir;
  const auto bad = dir.write("bad.yaml", "listen: 127.0.0.1:1\nbogus_key: 1\n");
  const std::vector<std::vector<std::string>> cases{
      {}, {"frobnicate"}, {"status", "--colour"}, {"target"}, {"targets", "--state", "dead"},
      {"--config", dir.file("absent.yaml"), "status"}, {"--config", bad, "status"},
      {"--url", "ftp://127.0.0.1/", "status"}};
  for (const auto& args : cases) {
    const auto r = run_ctl(args);
    EXPECT_EQ(r.code, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("healthsweepctl: ")) << describe(r);
  }
  EXPECT_THAT(run_ctl({"--config", bad, "status"}).err, HasSubstr("bad.yaml:2:1"));
  EXPECT_EQ(run_ctl({"--help"}).code, 0);
}

TEST(CtlCli, NothingListeningExitsThree) {
  const ClosedPort closed;
  TempDir dir;  // the address from the config's listen, as an operator's would
  const auto config = dir.write("c.yaml", "listen: 127.0.0.1:" + std::to_string(closed.port()) + "\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"status"}, {"targets"}, {"target", "x"}, {"reset", "x"}, {"sweep", "x"}, {"events", "--follow"}}) {
    std::vector<std::string> full{"--config", config};
    full.insert(full.end(), args.begin(), args.end());
    const auto r = run_ctl(full);
    EXPECT_EQ(r.code, 3) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("daemon not reachable: connect: Connection refused"));
  }
}

}  // namespace

// The daemon answers 429 only with 10,000 checks queued (the reactive
// layer's bound, not configurable); a loopback server that answers 429 to
// every POST stands in for it, as it does for a daemon too slow to answer.
TEST(CtlCli, AFullCheckQueueExitsOneAndASilentServerExitsThree) {
  StatusServer busy(429);
  ASSERT_NE(busy.port, 0) << busy.process.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(busy.port);
  const auto full = run_ctl({"--url", url, "sweep", "t-1"});
  EXPECT_EQ(full.code, 1) << describe(full);
  EXPECT_THAT(full.err, HasSubstr("check queue is full"));

  busy.dir.write("status.delay", "30");  // POSTs answered 30 s late
  const auto slow = run_ctl({"--url", url, "--timeout", "300ms", "reset", "t-1"});
  EXPECT_EQ(slow.code, 3) << describe(slow);
  EXPECT_THAT(slow.err, HasSubstr("daemon not reachable"));
}

// A stale subsystem (Redis on a port that refuses) makes /admin/liveness 503:
// status still shows the table, names the stale one, and exits 1.
TEST(CtlCli, StatusWithAStaleSubsystemShowsItAndExitsOne) {
  const ClosedPort no_redis;
  Daemon d("redis:\n  url: \"redis://127.0.0.1:" + std::to_string(no_redis.port()) + "/0\"\n"
           "  reconcile_interval: 200ms\n"
           "liveness: { stale_after: 1s }\n");
  ASSERT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 503; }, 20s)) << d.log();
  const auto r = run_ctl({"--url", "http://127.0.0.1:" + std::to_string(d.port()), "status"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_THAT(r.out, HasSubstr("daemon:    stale"));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nredis +stale +)"))) << r.out;
  EXPECT_THAT(r.err, HasSubstr("a subsystem is stale (HTTP 503)"));
}
