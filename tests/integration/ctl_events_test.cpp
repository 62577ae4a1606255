// healthsweepctl's events against a real healthsweepd and a real PostgreSQL:
// `target ID` with the target's rows of healthsweep_events, `events`, and
// `events --follow` seeing a transition as it happens, both through LISTEN
// healthsweep_events and by polling the admin API (no postgres section).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <random>
#include <regex>

#include "tests/integration/ctl_support.hpp"
#include "tests/integration/psql.hpp"
#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

// t-flip's HTTP check answers 200 until the test answers 500: online, then
// suspect, then offline.
std::string flip_config(const StatusServer& server, const std::string& postgres_section) {
  return postgres_section +
         "targets:\n  static:\n    - { id: t-flip, http: \"" + server.url() + "\" }\n"
         "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, failure_threshold: 2 }\n"
         "remediation:\n  restart: { via: none }\n";
}

// A database of its own for one test, dropped at the end.
struct TestDatabase {
  std::string admin_dsn, name, dsn;
  explicit TestDatabase(std::string admin) : admin_dsn(std::move(admin)) {
    name = "ctl_" + std::to_string(std::random_device{}() % 1000000);
    EXPECT_EQ(psql(admin_dsn, "create database " + name), "");
    dsn = admin_dsn + " dbname=" + name;
  }
  ~TestDatabase() { psql(admin_dsn, "drop database " + name); }
};

void stop(CtlFollow& follow) {
  follow.process.signal(SIGTERM);
  const auto code = follow.process.wait_exit(10s);
  EXPECT_EQ(code, 0) << "Ctrl-C or SIGTERM ends --follow cleanly\n" << follow.log();
}

TEST(CtlEvents, FollowListensAndTargetShowsTheEventsFromPostgres) {
  HS_REQUIRE_ENV(admin_dsn, "HS_TEST_PG_DSN");
  TestDatabase db(admin_dsn);
  StatusServer server(200);
  ASSERT_NE(server.port, 0) << server.process.log();
  TempDir spool;
  const std::string pg = "postgres:\n  dsn: \"" + db.dsn + "\"\n  spool_dir: \"" + spool.path() + "\"\n";
  Daemon d(flip_config(server, pg));
  ASSERT_TRUE(eventually([&] { return state_of(d, "t-flip") == "online"; }, 10s)) << d.log();
  // The check can be quicker than the store's migrations: wait for the row.
  ASSERT_TRUE(eventually([&] { return psql(db.dsn, "select count(*) from healthsweep_events") == "1"; }, 10s))
      << d.log();
  // healthsweepctl reads the postgres section from its config file.
  const auto config = spool.write("ctl.yaml", "listen: 127.0.0.1:" + std::to_string(d.port()) + "\n" + pg);

  CtlFollow follow({"--config", config, "events", "--follow"});
  CtlFollow follow_json({"--config", config, "events", "--follow", "-o", "json"});
  for (auto* f : {&follow, &follow_json})
    ASSERT_TRUE(eventually([&] { return f->log().find("(LISTEN healthsweep_events)") != std::string::npos; }, 20s))
        << f->log();
  server.answer(500);
  ASSERT_TRUE(eventually([&] { return follow.log().find("t-flip  suspect -> offline") != std::string::npos; }, 20s))
      << follow.log() << d.log();
  EXPECT_TRUE(std::regex_search(follow.log(), std::regex(
      R"(20\d\d-\d\d-\d\dT[\d:.]+Z  t-flip  online -> suspect  \[proactive\]  http: HTTP 500\n)"))) << follow.log();
  EXPECT_EQ(follow.log().find("unknown -> online"), std::string::npos) << "events before --follow are not shown";
  stop(follow);
  ASSERT_TRUE(eventually([&] { return follow_json.log().find(R"("to_state":"offline")") != std::string::npos; }, 20s))
      << follow_json.log();
  stop(follow_json);
  const std::string json_log = follow_json.log();
  const auto first = json_log.find('{');
  ASSERT_NE(first, std::string::npos) << json_log;
  const auto event = boost::json::parse(json_log.substr(first, json_log.find('\n', first) - first)).as_object();
  EXPECT_EQ(event.at("id").to_number<int>(), 2) << json_log;  // the row of healthsweep_events
  EXPECT_EQ(event.at("from_state").as_string(), "online");
  EXPECT_EQ(event.at("to_state").as_string(), "suspect");
  EXPECT_EQ(event.at("layer").as_string(), "proactive");

  const auto target = run_ctl({"--config", config, "target", "t-flip"});
  ASSERT_EQ(target.code, 0) << describe(target);
  EXPECT_THAT(target.out, HasSubstr("Events (newest last):"));
  EXPECT_TRUE(std::regex_search(target.out, std::regex(R"(\n  1 +\S+ +t-flip +unknown +online +proactive +http: HTTP 200\n)")))
      << target.out;
  EXPECT_TRUE(std::regex_search(target.out, std::regex(R"(\n  3 +\S+ +t-flip +suspect +offline +proactive +http: HTTP 500\n)")))
      << target.out;
  const auto json = run_ctl({"--config", config, "target", "t-flip", "-o", "json"});
  const auto events = boost::json::parse(json.out).at("events").as_array();
  ASSERT_EQ(events.size(), 3u) << json.out;
  EXPECT_EQ(events[1].at("to_state").as_string(), "suspect");
  EXPECT_EQ(events[1].at("layer").as_string(), "proactive");

  const auto recent = run_ctl({"--config", config, "events", "-o", "json"});
  ASSERT_EQ(recent.code, 0) << describe(recent);
  EXPECT_EQ(boost::json::parse(recent.out).as_array().size(), 3u) << recent.out;
}

TEST(CtlEvents, FollowWithoutPostgresPollsTheAdminApi) {
  StatusServer server(200);
  ASSERT_NE(server.port, 0) << server.process.log();
  Daemon d(flip_config(server, ""));
  ASSERT_TRUE(eventually([&] { return state_of(d, "t-flip") == "online"; }, 10s)) << d.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(d.port());

  CtlFollow follow({"--url", url, "events", "--follow", "-o", "json"});
  ASSERT_TRUE(eventually([&] { return follow.log().find("by polling GET /admin/targets") != std::string::npos; }, 20s))
      << follow.log();
  server.answer(500);
  // suspect lasts one check interval (200 ms): a poll a second may miss it,
  // so the first change seen goes from online to suspect or to offline.
  ASSERT_TRUE(eventually([&] { return follow.log().find(R"("to_state":"offline")") != std::string::npos; }, 20s))
      << follow.log() << d.log();
  stop(follow);
  const std::string log = follow.log();
  const auto first = log.find(R"({"id":null,"target":"t-flip","from_state":"online")");
  ASSERT_NE(first, std::string::npos) << log;
  const auto line = boost::json::parse(log.substr(first, log.find('\n', first) - first)).as_object();
  EXPECT_TRUE(line.at("layer").is_null());
  EXPECT_THAT(std::string(line.at("to_state").as_string()), ::testing::AnyOf("suspect", "offline"));
}

TEST(CtlEvents, EventsWithoutFollowNeedPostgres) {
  const auto r = run_ctl({"--url", "http://127.0.0.1:1", "events"});
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_THAT(r.err, HasSubstr("no postgres section"));
}

}  // namespace
