// Issue 8 against a real daemon: the engine's event stream, health status
// with failure_threshold, HTTP and TCP checks on loopback, an engine outage,
// and one sweep over hundreds of containers. Every engine test (ProactiveEngine) runs
// on both Podman and the Docker Engine.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"
#include "tests/support/engine.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string engine_config(const Engine& p, const std::string& proactive,
                          const std::string& extra = "", const std::string& engine_extra = "") {
  return "engine:\n  socket: \"" + p.socket() + "\"\n" + engine_extra +
         "targets:\n  engine_label: \"" + p.label() + "\"\n"
         "sweeps:\n  proactive: { " + proactive + " }\n"
         "remediation:\n  restart: { via: none }\n  fail_safe: { min_targets: 1000 }\n" + extra;
}

// A listening TCP socket (connects succeed through the backlog) until closed.
struct Listener {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  Listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd, 64);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  void close_now() { if (fd >= 0) ::close(fd); fd = -1; }
  ~Listener() { close_now(); }
};

class ProactiveEngine : public ::testing::TestWithParam<EngineKind> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, ProactiveEngine, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(ProactiveEngine, KilledContainerIsOfflineThroughTheEventStreamWithAnHourlyPoll) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("e"), "ws-e");
  // The process watch off: only the event stream can see this death.
  Daemon d(engine_config(p, "interval: 1h, timeout: 10s", "liveness: { stale_after: 2h }\n",
                         "  watch_processes: false\n"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-e") == "online"; }, 15s)) << d.log();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_event_stream_up") == 1; }, 15s))
      << d.log();
  p.kill(p.name("e"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-e") == "offline"; }, 10s)) << d.log();
  EXPECT_NE(target(d, "ws-e")->reason.find("container died"), std::string::npos);
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"proactive\"}"), 1);
  EXPECT_EQ(metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"proactive\"}"), 1)
      << "only the first sweep ran: the event stream did it";
  EXPECT_EQ(metric(d, "healthsweep_proactive_watched_processes"), 0);
  EXPECT_EQ(metric(d, "healthsweep_proactive_process_exits_total"), 0);
}

TEST_P(ProactiveEngine, KilledContainerIsOfflineAtOnceThroughItsProcessExitAndWatchedAgainAfterItsRestart) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("x"), "ws-x");
  Daemon d(engine_config(p, "interval: 1h, timeout: 10s", "liveness: { stale_after: 2h }\n"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-x") == "online"; }, 15s)) << d.log();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_watched_processes") == 1; }, 10s))
      << d.log();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_event_stream_up") == 1; }, 15s))
      << d.log();
  p.kill(p.name("x"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-x") == "offline"; }, 10s)) << d.log();
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_process_exits_total") == 1; }, 5s));
  // The engine's die event follows; the death still counts once.
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_event_deaths_total") == 1; }, 10s))
      << d.log();
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"proactive\"}"), 1);
  EXPECT_EQ(metric(d, "healthsweep_proactive_watched_processes"), 0);

  // Started again: the start event re-arms the watch on the new process.
  p.start(p.name("x"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-x") == "online"; }, 10s)) << d.log();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_watched_processes") == 1; }, 10s))
      << d.log();
  p.kill(p.name("x"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-x") == "offline"; }, 10s)) << d.log();
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_process_exits_total") == 2; }, 5s));
  EXPECT_EQ(metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"proactive\"}"), 1)
      << "only the first sweep ran";
}

TEST_P(ProactiveEngine, UnhealthyContainerGoesOfflineAfterFailureThreshold) {
  HS_REQUIRE_ENGINE(p, GetParam());
  // Podman runs the check when asked; Docker every second by itself.
  p.run(p.name("h"), "ws-h", p.health_flags("test -f /tmp/ok"), "sh -c 'touch /tmp/ok; sleep 100000'");
  ASSERT_TRUE(p.check_health(p.name("h"), "healthy"));
  Daemon d(engine_config(p, "interval: 1s, timeout: 2s, failure_threshold: 2"));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-h") == "online"; }, 15s)) << d.log();
  ASSERT_EQ(p.run_shell("exec " + p.name("h") + " rm /tmp/ok"), 0);
  ASSERT_TRUE(p.check_health(p.name("h"), "unhealthy"));
  // one unhealthy look is not enough; the next sweeps make it two
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-h") == "offline"; }, 15s)) << d.log();
  EXPECT_NE(target(d, "ws-h")->body.find("unhealthy"), std::string::npos);
  EXPECT_GE(metric(d, "healthsweep_transitions_total{from=\"online\",to=\"suspect\"}"), 1);
  EXPECT_GE(metric(d, "healthsweep_transitions_total{from=\"suspect\",to=\"offline\"}"), 1);
}

TEST(Proactive, HttpTargetAnswering500IsOfflineAndOnlineAgainAt200) {
  StatusServer server;
  ASSERT_NE(server.port, 0) << server.process.log();
  Daemon d("targets:\n  static:\n    - { id: web-1, http: \"" + server.url() + "\" }\n"
           "sweeps:\n  proactive: { interval: 300ms, timeout: 2s, failure_threshold: 2 }\n"
           "remediation:\n  restart: { via: none }\n");
  ASSERT_TRUE(eventually([&] { return state_of(d, "web-1") == "online"; }, 10s)) << d.log();
  server.answer(500);
  ASSERT_TRUE(eventually([&] { return state_of(d, "web-1") == "offline"; }, 10s)) << d.log();
  EXPECT_NE(target(d, "web-1")->reason.find("HTTP 500"), std::string::npos) << target(d, "web-1")->body;
  server.answer(200);
  EXPECT_TRUE(eventually([&] { return state_of(d, "web-1") == "online"; }, 10s)) << d.log();
}

TEST(Proactive, TcpTargetWhoseListenerClosesGoesOffline) {
  Listener l;
  Daemon d("targets:\n  static:\n    - { id: db-1, tcp: \"127.0.0.1:" + std::to_string(l.port) + "\" }\n"
           "sweeps:\n  proactive: { interval: 300ms, timeout: 2s, failure_threshold: 2 }\n"
           "remediation:\n  restart: { via: none }\n");
  ASSERT_TRUE(eventually([&] { return state_of(d, "db-1") == "online"; }, 10s)) << d.log();
  l.close_now();
  ASSERT_TRUE(eventually([&] { return state_of(d, "db-1") == "offline"; }, 10s)) << d.log();
  EXPECT_NE(target(d, "db-1")->reason.find("refused"), std::string::npos) << target(d, "db-1")->body;
}

TEST(Proactive, ASweepTakesTheTimeoutOnceEvenWhenTheEngineAndTheCheckBothHang) {
  // An engine socket that takes connections and never answers, and an HTTP
  // health URL whose listener never accepts: both wait out the timeout.
  TempDir dir;
  const std::string sock = dir.file("hung.sock");
  const int engine_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(engine_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(engine_fd, 64), 0);
  Listener http;
  Daemon d("engine:\n  socket: \"" + sock + "\"\n"
           "targets:\n  static:\n    - { id: hung-1, container: c-hung, http: \"http://127.0.0.1:" +
           std::to_string(http.port) + "/health\" }\n"
           "sweeps:\n  proactive: { interval: 1s, timeout: 500ms }\n"
           "liveness: { stale_after: 1m }\n"
           "remediation:\n  restart: { via: none }\n");
  ASSERT_TRUE(eventually([&] {
    return metric(d, "healthsweep_sweep_runs_total{result=\"error\",sweep=\"proactive\"}") >= 3; }, 15s))
      << d.log();
  const double sum = metric(d, "healthsweep_sweep_duration_seconds_sum{sweep=\"proactive\"}");
  const double count = metric(d, "healthsweep_sweep_duration_seconds_count{sweep=\"proactive\"}");
  ASSERT_GT(count, 0);
  // One after the other they would take 1 s; at the same time, 0.5 s.
  EXPECT_LT(sum / count, 0.8) << "mean sweep " << sum / count << " s";
  EXPECT_GE(sum / count, 0.45) << "mean sweep " << sum / count << " s";
  EXPECT_NE(target(d, "hung-1")->body.find("http"), std::string::npos) << "the check's result still counts";
  close(engine_fd);
}

TEST_P(ProactiveEngine, EngineOutageMakesEngineStaleWithNoDeadVerdictsAndRecovers) {
  HS_REQUIRE_ENGINE(shared, GetParam());
  // An API service of the test's own, so killing it harms no one else:
  // Podman's on the shared storage, a private dockerd (--live-restore) for
  // Docker. Killed with SIGKILL: the engine is simply gone.
  EngineService service(GetParam(), shared);
  ASSERT_TRUE(service.start()) << service.log();
  Engine& p = service.engine();
  p.run(p.name("o"), "ws-o");
  Daemon d("engine:\n  socket: \"" + service.socket() + "\"\n"
           "targets:\n  engine_label: \"" + p.label() + "\"\n"
           "sweeps:\n  proactive: { interval: 300ms, timeout: 500ms }\n"
           "liveness: { stale_after: 2s }\n"
           "remediation:\n  fail_safe: { min_targets: 1000 }\n");
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-o") == "online"; }, 15s)) << d.log();
  service.kill();
  ASSERT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 503; }, 15s)) << d.log();
  const auto live = d.get("/admin/liveness").body;
  EXPECT_NE(live.find("\"engine\":{\"status\":\"stale\""), std::string::npos) << live;
  EXPECT_EQ(state_of(d, "ws-o"), "online") << "an unreachable engine is no evidence of death";
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 1);
  EXPECT_GE(metric(d, "healthsweep_sweep_runs_total{result=\"error\",sweep=\"proactive\"}"), 1);
  ASSERT_TRUE(service.start()) << service.log();
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 20s)) << d.log();
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 0);
  EXPECT_EQ(state_of(d, "ws-o"), "online");
  EXPECT_EQ(p.status(p.name("o")), "running") << "the container outlived its engine";
}

TEST_P(ProactiveEngine, OneSweepCoversHundredsOfContainers) {
  HS_REQUIRE_ENGINE(p, GetParam());
  // 300 on Podman; 200 on Docker, where every running container has a
  // containerd shim of its own (~13 MB RSS) and takes ~0.3-0.7 s to start
  // and as long to remove on this two-core machine. ctest may run the two
  // at once: with 500 on Podman beside Docker's 200 the pair did not fit the
  // test's 300 s (CI-style run, 2 cores).
  const int n = p.docker() ? 200 : 300;
  // Created two at a time (the engine is shared with tests running beside
  // this one), started in one call (Docker: four calls at once).
  // Bounded like every engine command of the tests (Engine::run_shell).
  std::string cmd = "seq 0 " + std::to_string(n - 1) + " | timeout -k 5 200 xargs -P 2 -I{} sh -c '" + p.command() + " create " +
                    p.create_flags() + " --name " + p.name("{}") + " --label " + p.label() + "=ws-{} " + p.image() +
                    " sleep 100000 >/dev/null'";
  ASSERT_EQ(run_shell(cmd), 0);
  std::string ids;
  p.run_shell("ps -aq --filter label=" + p.label(), &ids);
  if (p.docker()) {
    ASSERT_EQ(run_shell("echo '" + ids + "' | timeout -k 5 200 xargs -n 10 -P 4 " + p.command() + " start >/dev/null"), 0);
  } else {
    for (char& c : ids) if (c == '\n') c = ' ';
    // (300 in one call may outlast Engine::run_shell's 120 s on a slow machine)
    ASSERT_EQ(run_shell("timeout -k 5 200 " + p.command() + " start " + ids + " >/dev/null"), 0);
  }
  // A timeout that only a hang reaches: a listing of 300 containers took over
  // 5 s on a loaded machine here (a sweep error, not what this test is about).
  Daemon d(engine_config(p, "interval: 30s, timeout: 25s"));
  ASSERT_TRUE(eventually([&] {
    return metric(d, "healthsweep_targets{state=\"online\"}") == n; }, 90s)) << d.log().substr(0, 4000);
  EXPECT_GE(metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"proactive\"}"), 1);
  EXPECT_EQ(metric(d, "healthsweep_sweep_runs_total{result=\"error\",sweep=\"proactive\"}"), 0);
  // Each running container's process is watched, armed by one inspect each,
  // once (not at every sweep).
  EXPECT_TRUE(eventually([&] {
    return metric(d, "healthsweep_proactive_watched_processes") == n; }, 60s)) << d.log().substr(0, 4000);
}

TEST_P(ProactiveEngine, ContainersCreatedOrRemovedAfterStartAreDiscoveredWithoutWaitingForThePoll) {
  HS_REQUIRE_ENGINE(p, GetParam());
  Daemon d(engine_config(p, "interval: 1h, timeout: 10s", "liveness: { stale_after: 2h }\n"));
  // The first (hourly) sweep done and the event stream open: from here only
  // the stream can discover a container.
  ASSERT_TRUE(eventually([&] {
    return metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"proactive\"}") == 1 &&
           metric(d, "healthsweep_proactive_event_stream_up") == 1; }, 15s)) << d.log();
  p.run(p.name("n"), "ws-n");
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-n") == "online"; }, 10s)) << d.log();
  ASSERT_EQ(p.remove(p.name("n")), 0);  // Docker's event says destroy, Podman's remove
  EXPECT_TRUE(eventually([&] { return state_of(d, "ws-n") == "<absent>"; }, 10s)) << d.log();
}
