#include <gtest/gtest.h>

#include "sweeps/proactive/target_check.hpp"

#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "tests/support/engine_fake_server.hpp"
#include "tests/support/process.hpp"

#include <boost/asio/ip/tcp.hpp>

using namespace healthsweep::sweeps::proactive;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;


TEST(TargetCheck, RunningWithoutHealthCheckIsAliveConclusive) {
  auto f = container_finding("running", "", "Up 3 seconds");
  EXPECT_EQ(f.verdict, Verdict::alive);
}

TEST(TargetCheck, UnhealthyIsInconclusiveDeadAndStartingIsNoVerdict) {
  auto u = container_finding("running", "unhealthy", "Up");
  EXPECT_EQ(u.verdict, Verdict::dead);
  EXPECT_FALSE(u.conclusive);
  EXPECT_EQ(container_finding("running", "starting", "Up").verdict, Verdict::unknown);
}

TEST(TargetCheck, ExitedIsConclusiveDeadAndCreatedIsInconclusive) {
  auto e = container_finding("exited", "", "Exited (137) 2 seconds ago");
  EXPECT_EQ(e.verdict, Verdict::dead);
  EXPECT_TRUE(e.conclusive);
  EXPECT_NE(e.reason.find("Exited (137)"), std::string::npos);
  auto c = container_finding("created", "", "Created");
  EXPECT_EQ(c.verdict, Verdict::dead);
  EXPECT_FALSE(c.conclusive);
}

TEST(TargetCheck, InspectOfAnExitedContainerNamesTheExitCode) {
  ContainerInfo info;
  info.status = "exited";
  info.exit_code = 137;
  info.oom_killed = true;
  auto f = container_finding(info);
  EXPECT_TRUE(f.conclusive);
  EXPECT_NE(f.reason.find("code 137, OOM-killed"), std::string::npos) << f.reason;
}

TEST(TargetCheck, FoldDeadWinsAliveNeedsEveryone) {
  const Finding alive{Verdict::alive, true, "container running"};
  const Finding http_dead{Verdict::dead, false, "http: HTTP 500"};
  const Finding unknown{Verdict::unknown, false, "engine unreachable"};
  auto a = fold({alive, http_dead});
  EXPECT_EQ(a.verdict, Verdict::dead);
  EXPECT_FALSE(a.conclusive);
  EXPECT_EQ(a.reason, "container running; http: HTTP 500");
  EXPECT_EQ(fold({alive, alive}).verdict, Verdict::alive);
  EXPECT_EQ(fold({alive, unknown}).verdict, Verdict::unknown);
  EXPECT_EQ(fold({unknown}).verdict, Verdict::unknown);
  EXPECT_TRUE(fold({Finding{Verdict::dead, true, "exited"}, http_dead}).conclusive);
}

TEST(TargetCheck, ProbeFailureIsInconclusiveDead) {
  ProbeOutcome o;
  o.alive = false;
  o.detail = "connect: Connection refused";
  auto f = probe_finding("tcp", o);
  EXPECT_EQ(f.verdict, Verdict::dead);
  EXPECT_FALSE(f.conclusive);
  EXPECT_EQ(f.reason, "tcp: connect: Connection refused");
}

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

TargetSpec spec_of(std::string id, std::string container, std::string http = {},
                   std::optional<healthsweep::config::Endpoint> tcp = std::nullopt) {
  TargetSpec s;
  s.id = std::move(id);
  s.container = std::move(container);
  s.http = std::move(http);
  s.tcp = std::move(tcp);
  return s;
}

std::uint16_t closed_port() {  // bound then closed: nothing listens there
  net::io_context io;
  net::ip::tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

// A target is checked by what it has, and only by that: one side awaited
// alone, both sides at once when it has both. Each case's verdict and
// reason show which checks ran; the engine counts its inspects.
TEST(TargetCheck, ATargetIsCheckedByWhatItHasAndOnlyThat) {
  healthsweep::testing::TempDir dir;
  net::io_context io;
  healthsweep::testing::FakeEngine engine(io, dir.file("engine.sock"), [](const auto&) {
    return healthsweep::testing::FakeReply{200, R"({"Id":"c1","Name":"/c1","State":{"Status":"running","Running":true}})"};
  });
  EngineClient client(io.get_executor(), dir.file("engine.sock"), "v1.41", 2s);
  HttpChecker http(io.get_executor());
  net::ip::tcp::acceptor listening(io, {net::ip::make_address("127.0.0.1"), 0});
  listening.listen();
  const healthsweep::config::Endpoint open{"127.0.0.1", listening.local_endpoint().port()};
  const healthsweep::config::Endpoint closed{"127.0.0.1", closed_port()};
  const auto check = [&](TargetSpec spec) {
    return healthsweep::testing::run_on(io, check_target(io.get_executor(), spec, &client, &http, 2s, Layer::reactive));
  };

  auto container_only = check(spec_of("a", "c1"));
  EXPECT_EQ(container_only.verdict, Verdict::alive);
  EXPECT_TRUE(container_only.conclusive);
  EXPECT_EQ(container_only.reason, "container running");
  EXPECT_EQ(engine.requests(), 1);

  auto tcp_only = check(spec_of("b", "", "", open));
  EXPECT_EQ(tcp_only.verdict, Verdict::alive);
  EXPECT_EQ(tcp_only.reason.rfind("tcp: ", 0), 0u) << tcp_only.reason;
  EXPECT_EQ(engine.requests(), 1) << "no inspect for a target without a container";

  auto both = check(spec_of("c", "c1", "", closed));
  EXPECT_EQ(both.verdict, Verdict::dead) << "the closed port wins over the running container";
  EXPECT_FALSE(both.conclusive);
  EXPECT_EQ(both.reason.rfind("container running; tcp: ", 0), 0u) << both.reason;
  EXPECT_EQ(engine.requests(), 2);

  auto probes = check(spec_of("d", "", "http://127.0.0.1:" + std::to_string(closed.port) + "/", open));
  EXPECT_EQ(probes.verdict, Verdict::dead);
  EXPECT_EQ(probes.reason.rfind("http: ", 0), 0u) << "http first, then tcp: " << probes.reason;
  EXPECT_NE(probes.reason.find("; tcp: "), std::string::npos) << probes.reason;
  EXPECT_EQ(engine.requests(), 2);

  auto nothing = check(spec_of("e", ""));
  EXPECT_EQ(nothing.verdict, Verdict::unknown);
  EXPECT_EQ(nothing.reason, "nothing to check (no container, http or tcp)");

  auto engineless = healthsweep::testing::run_on(
      io, check_target(io.get_executor(), spec_of("f", "c1"), nullptr, &http, 2s, Layer::reactive));
  EXPECT_EQ(engineless.verdict, Verdict::unknown) << "no engine configured: the container cannot be looked at";
  EXPECT_EQ(engine.requests(), 2);
}
