// Orders, startup grace, backoff, quarantine and reset, with a fake clock.
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

using RemediationTest = StateMachineTest;

TEST_F(RemediationTest, OfflineTargetIsRestartedAfterTheSettleDelay) {
  make(1s);
  add("ws-1");
  alive("ws-1");
  Effects fx = dead("ws-1");
  EXPECT_TRUE(fx.orders.empty());
  EXPECT_EQ(machine().next_deadline(), t0 + 1s);
  EXPECT_TRUE(at(999ms).orders.empty());
  Effects due = at(1s);
  ASSERT_EQ(due.orders.size(), 1u);
  EXPECT_EQ(due.orders[0].kind, RemediationKind::restart);
  EXPECT_EQ(due.orders[0].container, "c-ws-1");
  EXPECT_EQ(due.orders[0].reason, "container exited");
  EXPECT_FALSE(due.orders[0].suppressed);
  EXPECT_EQ(last(due).from, State::offline);
  EXPECT_EQ(last(due).to, State::restarting);
  EXPECT_EQ(machine().find("ws-1")->restarts, 1u);
}

TEST_F(RemediationTest, ZeroSettleRestartsInTheSameCall) {
  add("ws-1");
  Effects fx = dead("ws-1");
  EXPECT_EQ(restarts(fx), 1u);
  EXPECT_EQ(state("ws-1"), State::restarting);
}

TEST_F(RemediationTest, ViaWebhookOrdersAWebhook) {
  cfg.restart.via = config::RestartVia::webhook;
  add("ws-1");
  Effects fx = dead("ws-1");
  EXPECT_EQ(count_orders(fx, RemediationKind::webhook, false), 1u);
  EXPECT_EQ(state("ws-1"), State::restarting);
}

TEST_F(RemediationTest, ViaNoneOnlyMarksOffline) {
  cfg.restart.via = config::RestartVia::none;
  add("ws-1");
  Effects fx = dead("ws-1");
  EXPECT_EQ(count_orders(fx, RemediationKind::mark_offline, false), 1u);
  EXPECT_EQ(fx.orders.size(), 1u);
  EXPECT_EQ(state("ws-1"), State::offline);
  EXPECT_FALSE(machine().next_deadline().has_value());
}

TEST_F(RemediationTest, DisabledRestartOnlyMarksOffline) {
  cfg.restart.enabled = false;
  add("ws-1");
  EXPECT_EQ(count_orders(dead("ws-1"), RemediationKind::mark_offline, false), 1u);
}

TEST_F(RemediationTest, TargetWithoutContainerIsOnlyMarkedOffline) {
  add("ws-1");
  TargetSpec spec;
  spec.id = "plain";  // no container: the engine cannot restart it
  machine().upsert(spec, now);
  EXPECT_EQ(count_orders(dead("plain"), RemediationKind::mark_offline, false), 1u);
}

TEST_F(RemediationTest, MissingEvidenceDuringStartupGraceNeverRestartsAgain) {
  add("ws-1");
  dead("ws-1");
  machine().remediation_result("ws-1", RemediationKind::restart, true, "", now);
  Effects during;
  for (int s = 1; s < 30; ++s) {
    now = t0 + std::chrono::seconds(s);
    during.append(dead("ws-1", false, "health: starting"));
    during.append(evidence("ws-1", Verdict::unknown, false, Layer::passive, "no heartbeat yet"));
  }
  EXPECT_TRUE(during.orders.empty());
  EXPECT_TRUE(during.transitions.empty());
  EXPECT_EQ(state("ws-1"), State::restarting);
}

TEST_F(RemediationTest, AliveDuringStartupGraceGoesOnline) {
  add("ws-1");
  dead("ws-1");
  machine().remediation_result("ws-1", RemediationKind::restart, true, "", now);
  now += 5s;
  Effects fx = alive("ws-1");
  EXPECT_EQ(last(fx).from, State::restarting);
  EXPECT_EQ(last(fx).to, State::online);
  EXPECT_TRUE(at(1min).orders.empty()) << "the grace deadline is gone";
}

TEST_F(RemediationTest, GraceExpiryIsAFailedStart) {
  add("ws-1");
  dead("ws-1");  // restart at t0, grace until t0+30s
  EXPECT_EQ(machine().next_deadline(), t0 + 30s);
  EXPECT_TRUE(at(29s).transitions.empty());
  Effects fx = at(30s);
  ASSERT_GE(fx.transitions.size(), 1u);
  EXPECT_EQ(fx.transitions[0].from, State::restarting);
  EXPECT_EQ(fx.transitions[0].to, State::offline);
  EXPECT_EQ(fx.transitions[0].reason, "failed start: not alive within 30s");
  EXPECT_EQ(restarts(fx), 1u) << "backoff 10s after the first restart is already over";
}

TEST_F(RemediationTest, StuckRestartingIsRestartedOncePerGraceNotInATightLoop) {
  cfg.restart.max_restarts = 100;
  add("ws-1");
  Effects all = dead("ws-1");
  // The container sits in "created" forever; the engine says so every second.
  for (int s = 1; s <= 300; ++s) {
    all.append(at(std::chrono::seconds(s)));
    all.append(dead("ws-1", false, "container created"));
  }
  // Restarts at 0, 30, 60, 100, 180: each start gets its whole grace, and
  // once the backoff outgrows the grace it spaces them further.
  EXPECT_LE(restarts(all), 300u / 30u + 1u);
  EXPECT_GE(restarts(all), 4u);
  EXPECT_EQ(machine().find("ws-1")->restarts, restarts(all));
}

TEST_F(RemediationTest, ConclusiveDeadAfterConfirmedStartIsAFailedStart) {
  add("ws-1");
  dead("ws-1");
  now += 2s;
  machine().remediation_result("ws-1", RemediationKind::restart, true, "", now);
  now += 1s;
  Effects fx = dead("ws-1", true, "container exited (code 1)");
  EXPECT_EQ(fx.transitions[0].to, State::offline);
  EXPECT_EQ(fx.transitions[0].reason, "failed start: container exited (code 1)");
  EXPECT_TRUE(fx.orders.empty()) << "second restart waits for the backoff";
  EXPECT_EQ(machine().next_deadline(), t0 + 10s);
  EXPECT_EQ(restarts(at(10s)), 1u);
}

TEST_F(RemediationTest, DeathBeforeTheStartIsConfirmedIsTheRestartItself) {
  add("ws-1");
  dead("ws-1");
  now += 1s;  // the engine stops the old container as part of the restart
  Effects fx = dead("ws-1", true, "container died");
  EXPECT_TRUE(fx.transitions.empty());
  EXPECT_EQ(state("ws-1"), State::restarting);
}

TEST_F(RemediationTest, DeathObservedBeforeTheStartIsIgnored) {
  add("ws-1");
  dead("ws-1");
  now += 2s;
  machine().remediation_result("ws-1", RemediationKind::restart, true, "", now);
  const auto stop_event = now - 1s;  // delivered late by the event stream
  Effects fx = evidence("ws-1", Verdict::dead, true, Layer::proactive, "container died", stop_event);
  EXPECT_TRUE(fx.transitions.empty());
  EXPECT_EQ(state("ws-1"), State::restarting);
}

TEST_F(RemediationTest, FailedRestartCallGoesOfflineWithTheError) {
  add("ws-1");
  dead("ws-1");
  Effects fx = machine().remediation_result("ws-1", RemediationKind::restart, false, "no such container", now);
  EXPECT_EQ(last(fx).to, State::offline);
  EXPECT_EQ(last(fx).reason, "restart failed: no such container");
}

TEST_F(RemediationTest, LateResultAfterTheTargetCameBackIsIgnored) {
  add("ws-1");
  dead("ws-1");
  alive("ws-1");
  Effects fx = machine().remediation_result("ws-1", RemediationKind::restart, false, "timeout", now);
  EXPECT_TRUE(fx.transitions.empty());
  EXPECT_EQ(state("ws-1"), State::online);
}

TEST_F(RemediationTest, BackoffDoublesUpToTheMaximum) {
  cfg.restart.startup_grace = 5s;
  cfg.restart.backoff_max = 40s;
  cfg.restart.max_restarts = 100;
  add("ws-1");
  Effects fx = dead("ws-1");
  ASSERT_EQ(restarts(fx), 1u);  // t=0
  // Each start fails at grace expiry (+5s); the next restart is due the
  // backoff after the previous restart: +10, +20, +40, +40.
  const std::chrono::seconds expected[] = {10s, 30s, 70s, 110s, 150s};
  std::chrono::seconds previous = 0s;
  for (auto due : expected) {
    EXPECT_EQ(at(previous + 5s).transitions.front().to, State::offline);
    EXPECT_EQ(machine().next_deadline(), t0 + due);
    EXPECT_EQ(restarts(at(due - 1ms)), 0u);
    EXPECT_EQ(restarts(at(due)), 1u) << "restart due at +" << due.count() << "s";
    previous = due;
  }
}

TEST_F(RemediationTest, CrashLoopIsQuarantinedAfterMaxRestarts) {
  cfg.restart.max_restarts = 3;
  add("ws-1");
  Effects all = dead("ws-1");  // restart 1 at 0
  // Every start is confirmed, and the container dies again a second later.
  for (int i = 0; i < 5; ++i) {
    machine().remediation_result("ws-1", RemediationKind::restart, true, "", now);
    now += 1s;
    all.append(dead("ws-1", true, "container exited (code 1)"));
    const auto next = machine().next_deadline();
    if (!next) break;
    now = *next;
    all.append(machine().tick(now));
  }
  EXPECT_EQ(restarts(all), 3u);
  EXPECT_EQ(state("ws-1"), State::quarantined);
  const TargetRecord* rec = machine().find("ws-1");
  EXPECT_TRUE(rec->quarantined);
  EXPECT_EQ(rec->restarts, 3u);
  EXPECT_EQ(rec->reason.view(), "crash loop: 3 restarts within 10m; reset to retry");
  EXPECT_TRUE(at(1h).orders.empty()) << "no orders until reset";
}

TEST_F(RemediationTest, QuarantinedTargetThatRecoversStaysQuarantined) {
  cfg.restart.max_restarts = 0;
  add("ws-1");
  Effects fx = dead("ws-1");
  EXPECT_EQ(last(fx).to, State::quarantined);
  EXPECT_TRUE(fx.orders.empty());
  alive("ws-1");
  EXPECT_EQ(state("ws-1"), State::online);
  EXPECT_TRUE(machine().find("ws-1")->quarantined);
  Effects again = dead("ws-1");
  EXPECT_EQ(last(again).to, State::quarantined) << "down again: no orders, state says why";
  EXPECT_TRUE(again.orders.empty());
}

TEST_F(RemediationTest, ResetClearsQuarantineAndRemediatesAfresh) {
  cfg.restart.max_restarts = 1;
  add("ws-1");
  dead("ws-1");
  at(30s);  // failed start -> quarantined
  ASSERT_EQ(state("ws-1"), State::quarantined);
  Effects fx = machine().reset("ws-1", now);
  ASSERT_GE(fx.transitions.size(), 2u);
  EXPECT_EQ(fx.transitions[0].from, State::quarantined);
  EXPECT_EQ(fx.transitions[0].to, State::offline);
  EXPECT_EQ(fx.transitions[0].layer, Layer::admin);
  EXPECT_EQ(fx.transitions[0].reason, "reset by admin");
  EXPECT_EQ(restarts(fx), 1u) << "first restart of a new incident: immediate";
  const TargetRecord* rec = machine().find("ws-1");
  EXPECT_FALSE(rec->quarantined);
  EXPECT_EQ(rec->restarts, 1u) << "history cleared, then one new restart";
}

TEST_F(RemediationTest, ResetClearsTheBackoffOfAPendingRestart) {
  cfg.restart.backoff_initial = 1min;
  add("ws-1");
  dead("ws-1");
  machine().remediation_result("ws-1", RemediationKind::restart, false, "engine busy", now);
  EXPECT_EQ(machine().next_deadline(), t0 + 1min);
  now += 1s;
  Effects fx = machine().reset("ws-1", now);
  EXPECT_EQ(fx.transitions.front().from, State::offline);
  EXPECT_EQ(fx.transitions.front().to, State::offline);
  EXPECT_EQ(restarts(fx), 1u);
}

TEST_F(RemediationTest, ResetOfAnUnknownIdDoesNothing) {
  EXPECT_TRUE(machine().reset("nope", now).empty());
}

TEST_F(RemediationTest, BackoffResetsAfterOnlineForTheWindow) {
  cfg.restart.window = 2min;
  add("ws-1");
  dead("ws-1");               // restart 1 at 0
  at(30s);                    // failed start, restart 2 (backoff 10s passed)
  now = t0 + 31s;
  alive("ws-1");              // online at 31s
  now = t0 + 40s;
  dead("ws-1");               // within the window: backoff 20s after restart 2
  EXPECT_EQ(machine().next_deadline(), t0 + 50s);
  at(50s);                    // restart 3
  now = t0 + 51s;
  alive("ws-1");
  EXPECT_EQ(machine().next_deadline(), t0 + 51s + 2min);
  at(51s + 2min);             // online for the window: incident over
  now = t0 + 200s;
  Effects fx = dead("ws-1");
  EXPECT_EQ(restarts(fx), 1u) << "first restart of a new incident is immediate";
  EXPECT_EQ(machine().find("ws-1")->restarts, 4u) << "lifetime count stays";
}

TEST_F(RemediationTest, BeginGraceGivesAStartupGraceWithoutCountingARestart) {
  add("ws-1");
  Effects fx = machine().begin_grace("ws-1", Layer::proactive, "container started", now);
  EXPECT_EQ(last(fx).to, State::restarting);
  EXPECT_TRUE(fx.orders.empty());
  now += 10s;
  EXPECT_TRUE(dead("ws-1", false, "health: starting").transitions.empty());
  EXPECT_EQ(machine().find("ws-1")->restarts, 0u);
  Effects expiry = at(30s);
  EXPECT_EQ(expiry.transitions.front().to, State::offline);
  EXPECT_EQ(restarts(expiry), 1u);
}

TEST_F(RemediationTest, BeginGraceDuringARestartRearmsTheGrace) {
  add("ws-1");
  dead("ws-1");
  now += 20s;
  machine().begin_grace("ws-1", Layer::proactive, "container started", now);
  EXPECT_EQ(machine().next_deadline(), t0 + 50s);
}

TEST_F(RemediationTest, WebhookSuccessWaitsForEvidenceOrGrace) {
  cfg.restart.via = config::RestartVia::webhook;
  add("ws-1");
  dead("ws-1");
  machine().remediation_result("ws-1", RemediationKind::webhook, true, "", now);
  now += 1s;  // the other party stops the container before starting it
  EXPECT_TRUE(dead("ws-1", true).transitions.empty());
  EXPECT_EQ(state("ws-1"), State::restarting);
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
