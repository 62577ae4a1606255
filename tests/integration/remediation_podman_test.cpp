// Issue 4 against a real engine, each test on both Podman (its
// Docker-compatible API) and the Docker Engine: discovery by label, kill ->
// offline -> restarted -> online, crash loops quarantined, startup grace,
// paused targets, and the fail-safe.
#include <gtest/gtest.h>

#include "tests/integration/target_json.hpp"
#include "tests/support/engine.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string config_for(const Engine& p, const std::string& extra_restart = "",
                       const std::string& fail_safe = "min_targets: 100") {
  return "engine:\n  socket: \"" + p.socket() + "\"\n"
         "targets:\n  engine_label: \"" + p.label() + "\"\n"
         "sweeps:\n  proactive: { interval: 1s, timeout: 2s }\n"
         "remediation:\n  restart: { backoff_initial: 200ms, backoff_max: 1s" + extra_restart + " }\n"
         "  fail_safe: { " + fail_safe + " }\n"
         "log:\n  level: debug\n";
}

class Remediation : public ::testing::TestWithParam<EngineKind> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, Remediation, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(Remediation, LabelledContainerIsDiscoveredOnline) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("a"), "ws-a");
  Daemon d(config_for(p));
  EXPECT_TRUE(eventually([&] { return state_of(d, "ws-a") == "online"; }, 15s)) << d.log();
  auto t = target(d, "ws-a");
  ASSERT_TRUE(t);
  EXPECT_NE(t->body.find("\"container\":\"" + p.name("a") + "\""), std::string::npos) << t->body;
}

TEST_P(Remediation, KilledContainerGoesOfflineIsRestartedAndComesBackOnline) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("k"), "ws-k");
  Daemon d(config_for(p));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-k") == "online"; }, 15s)) << d.log();
  p.kill(p.name("k"));
  ASSERT_TRUE(eventually([&] {
    auto t = target(d, "ws-k");
    return t && t->restarts >= 1 && t->state == "online";
  }, 20s)) << d.log();
  EXPECT_EQ(p.status(p.name("k")), "running");
  EXPECT_GE(metric(d, "healthsweep_remediations_total{action=\"restart\",result=\"ok\"}"), 1);
  EXPECT_GE(metric(d, "healthsweep_transitions_total{from=\"online\",to=\"offline\"}"), 1);
  EXPECT_GE(metric(d, "healthsweep_detections_total{layer=\"proactive\"}"), 1);
}

TEST_P(Remediation, ContainerThatDiesAfterEveryStartEndsQuarantinedUntilReset) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("c"), "ws-c", "", "sh -c 'sleep 2; exit 3'");
  TempDir dir;
  const auto token_file = dir.write("token", "reset-token\n");
  Daemon d(config_for(p, ", max_restarts: 2, startup_grace: 10s") +
           "auth: { token_file: \"" + token_file + "\" }\n");
  ASSERT_TRUE(eventually([&] {
    auto t = target(d, "ws-c");
    return t && t->quarantined;
  }, 60s)) << d.log();
  auto t = target(d, "ws-c");
  EXPECT_EQ(t->state, "quarantined");
  EXPECT_EQ(t->restarts, 2);
  // no more restarts once quarantined
  EXPECT_TRUE(holds_for(4s, [&] { return target(d, "ws-c")->restarts == 2; })) << d.log();
  EXPECT_EQ(p.status(p.name("c")), "exited");
  // The operator resets it: quarantine and history cleared, remediated afresh.
  EXPECT_EQ(d.post("/admin/targets/ws-c/reset", "", "wrong").status, 401);
  ASSERT_EQ(d.post("/admin/targets/ws-c/reset", "", "reset-token").status, 200);
  EXPECT_FALSE(target(d, "ws-c")->quarantined);
  EXPECT_TRUE(eventually([&] { return target(d, "ws-c")->restarts >= 1; }, 15s)) << d.log();
  EXPECT_EQ(d.post("/admin/targets/ws-nobody/reset", "", "reset-token").status, 404);
}

TEST_P(Remediation, ContainerUpButNeverAliveIsRestartedOncePerStartupGrace) {
  HS_REQUIRE_ENGINE(p, GetParam());
  // The health check never passes (no /tmp/ok) and never runs: Podman runs
  // health checks only when asked (no systemd timers here), Docker first
  // after the interval (1 h). Health stays "starting", so the container
  // never proves alive after its restart.
  p.run(p.name("g"), "ws-g", "--health-cmd 'test -f /tmp/ok' --health-interval 1h");
  Daemon d(config_for(p, ", startup_grace: 3s"));
  ASSERT_TRUE(eventually([&] { return target(d, "ws-g").has_value(); }, 15s)) << d.log();
  p.kill(p.name("g"));
  ASSERT_TRUE(eventually([&] { return target(d, "ws-g")->restarts >= 1; }, 15s)) << d.log();
  const auto first = std::chrono::steady_clock::now();
  // Each grace that runs out restarts it again...
  ASSERT_TRUE(eventually([&] { return target(d, "ws-g")->restarts >= 3; }, 60s)) << d.log();
  // ...one restart per grace (3 s) at most: never a tight loop. A slow
  // machine makes fewer restarts in the time, never more.
  const int restarts = target(d, "ws-g")->restarts;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  EXPECT_LE(restarts, 1 + static_cast<int>(elapsed / 3.0) + 1) << d.log();
  // Each grace that ran out was a failed start (the target object shows only
  // the current phase, so look at the transitions in the log).
  EXPECT_NE(d.log().find("failed start"), std::string::npos) << d.log();
}

TEST_P(Remediation, PausedTargetIsWatchedButNeverRestarted) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("p"), "ws-p", "--label healthsweep.paused=true");
  Daemon d(config_for(p));
  ASSERT_TRUE(eventually([&] { return state_of(d, "ws-p") == "paused"; }, 15s)) << d.log();
  p.kill(p.name("p"));
  // The death is seen (its evidence recorded), and over a window longer than
  // the settle delay nothing restarts it.
  ASSERT_TRUE(eventually([&] { return target(d, "ws-p")->body.find("dead") != std::string::npos; }, 15s))
      << "evidence is still recorded: " << target(d, "ws-p")->body;
  EXPECT_TRUE(holds_for(4s, [&] {
    auto t = target(d, "ws-p");
    return t->state == "paused" && t->restarts == 0;
  })) << target(d, "ws-p")->body;
  EXPECT_EQ(p.status(p.name("p")), "exited");
}

TEST_P(Remediation, TenOfTwentyKilledAtOnceTripTheFailSafeAndNothingIsRestarted) {
  HS_REQUIRE_ENGINE(p, GetParam());
  std::string names;
  // "f<i>" built by append: g++ 12 warns (-Wrestrict, a false positive) on
  // "f" + std::to_string(i) here.
  const auto f = [](int i) { return std::string("f").append(std::to_string(i)); };
  for (int i = 0; i < 20; ++i) p.run(p.name(f(i)), "ws-" + f(i));
  Daemon d(config_for(p, "", "max_offline_fraction: 0.3, min_targets: 10, window: 60s"));
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < 20; ++i)
      if (state_of(d, "ws-" + f(i)) != "online") return false;
    return true;
  }, 30s)) << d.log();
  for (int i = 0; i < 10; ++i) names += p.name(f(i)) + " ";
  // At once: one kill(1) of the ten containers' processes (a `podman kill` or
  // `docker kill` of ten names stops them one after another, seconds apart on
  // a busy machine).
  std::string pids;
  ASSERT_EQ(p.run_shell("inspect --format '{{.State.Pid}}' " + names, &pids), 0);
  for (char& c : pids) if (c == '\n') c = ' ';
  ASSERT_EQ(run_shell("kill -9 " + pids), 0) << pids;
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 1; }, 15s)) << d.log();
  EXPECT_TRUE(holds_for(4s, [&] {  // past the settle delay: a restart would have gone out
    return metric(d, "healthsweep_remediations_total{action=\"restart\",result=\"ok\"}") == 0;
  })) << d.log();
  EXPECT_GE(metric(d, "healthsweep_remediations_total{action=\"restart\",result=\"suppressed\"}"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.status(p.name(f(i))), "exited");
  EXPECT_NE(d.log().find("FAIL-SAFE ACTIVE"), std::string::npos);
}
