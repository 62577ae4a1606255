// The fail-safe: a fleet going down together, or a broken evidence source,
// never leads to restarts.
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

class FailSafeTest : public StateMachineTest {
 protected:
  // `n` targets (ws-0 .. ws-n-1) die 10 ms apart from t0 on.
  Effects kill_some(int n) {
    Effects fx;
    for (int i = 0; i < n; ++i) {
      now = t0 + std::chrono::milliseconds(10 * i);
      fx.append(dead("ws-" + std::to_string(i), true, "container killed"));
    }
    return fx;
  }
};

class FleetOfTwenty : public FailSafeTest {
 protected:
  void SetUp() override {
    make(1s);
    add_fleet_online(20);
  }
};

TEST_F(FleetOfTwenty, TenOfTwentyKilledAtOnceTripsTheFailSafeAndRestartsNothing) {
  Effects fx = kill_some(10);
  EXPECT_TRUE(machine().failsafe_active());
  ASSERT_TRUE(fx.failsafe_changed.has_value());
  EXPECT_TRUE(*fx.failsafe_changed);
  EXPECT_EQ(fx.failsafe_reason, "7 of 20 targets went offline within 1m (max 30%)");
  fx.append(at(5s));
  EXPECT_EQ(restarts(fx), 0u);
  EXPECT_EQ(suppressed(fx), 10u) << "every order counted as suppressed";
  EXPECT_EQ(machine().counts_by_state()[static_cast<std::size_t>(State::offline)], 10u);
}

TEST_F(FleetOfTwenty, ExactlyTheFractionDoesNotTrip) {
  kill_some(6);  // 6/20 = 0.3, not more than 0.3
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(restarts(at(5s)), 6u);
}

TEST_F(FleetOfTwenty, FailSafeStaysActiveWhileTheFleetIsStillDownAfterTheWindow) {
  kill_some(10);
  Effects fx = at(5min);
  EXPECT_TRUE(machine().failsafe_active()) << "10 of 20 still offline";
  EXPECT_FALSE(fx.failsafe_changed.has_value());
  EXPECT_EQ(restarts(fx), 0u);
}

TEST_F(FleetOfTwenty, FailSafeClearsWhenTheFleetRecoversAndRetriesSuppressedRestarts) {
  kill_some(10);
  at(5s);  // all ten suppressed
  now = t0 + 20s;
  for (int i = 0; i < 5; ++i) alive("ws-" + std::to_string(i));  // 5 of 20 offline now
  EXPECT_TRUE(machine().failsafe_active()) << "still 10 went down within the window";
  const auto expiry = machine().next_deadline();
  ASSERT_TRUE(expiry.has_value());
  EXPECT_EQ(*expiry, t0 + 60s) << "when the first one leaves the window";
  Effects fx = at(61s);
  EXPECT_FALSE(machine().failsafe_active());
  ASSERT_TRUE(fx.failsafe_changed.has_value());
  EXPECT_FALSE(*fx.failsafe_changed);
  EXPECT_EQ(restarts(fx), 0u) << "released after the settle delay, not at once";
  fx = at(62s);
  EXPECT_EQ(restarts(fx), 5u) << "the ones still offline are restarted a settle delay later";
  for (const auto& order : fx.orders) EXPECT_FALSE(order.suppressed);
}

TEST_F(FleetOfTwenty, ATargetSeenAliveWithinTheSettleAfterTheFailSafeClearsIsNotRestarted) {
  kill_some(10);
  at(5s);
  now = t0 + 20s;
  for (int i = 0; i < 5; ++i) alive("ws-" + std::to_string(i));
  at(61s);  // the fail-safe clears; five held restarts wait for the settle delay
  ASSERT_FALSE(machine().failsafe_active());
  now = t0 + 61500ms;
  alive("ws-5");  // started by hand; its evidence arrives just after the clear
  Effects fx = at(62s);
  EXPECT_EQ(restarts(fx), 4u);
  for (const auto& order : fx.orders) EXPECT_NE(order.target, "ws-5");
}

TEST_F(FleetOfTwenty, ATargetGoingDownRepeatedlyCountsOnce) {
  make(10s);
  now = t0 - 1min;
  add_fleet(20);
  for (int round = 0; round < 8; ++round) {
    now = t0 + std::chrono::seconds(round);
    dead("ws-0");
    alive("ws-0");
  }
  EXPECT_FALSE(machine().failsafe_active());
}

TEST_F(FailSafeTest, SettleLetsTargetsDyingTogetherBeSeenTogether) {
  make(0ms);  // without a settle delay the first six are restarted before the trip
  now = t0 - 1min;
  add_fleet(20);
  Effects fx = kill_some(10);
  EXPECT_TRUE(machine().failsafe_active());
  EXPECT_EQ(restarts(fx), 6u);
  EXPECT_EQ(suppressed(fx), 4u);
}

TEST_F(FailSafeTest, FleetBelowMinTargetsNeverTrips) {
  make(0ms);
  add_fleet(9);
  Effects fx;
  for (int i = 0; i < 9; ++i) fx.append(dead("ws-" + std::to_string(i)));
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(restarts(fx), 9u);
}

TEST_F(FailSafeTest, PausedTargetsAreNotPartOfTheFleet) {
  make(1s);
  add_fleet(10, "live-");
  for (int i = 0; i < 10; ++i) add("paused-" + std::to_string(i), true);
  for (int i = 0; i < 4; ++i) dead("live-" + std::to_string(i));  // 4 of 10, not 4 of 20
  EXPECT_TRUE(machine().failsafe_active());
}

TEST_F(FailSafeTest, UnhealthySourceSuppressesOrdersUntilItRecovers) {
  make(1s);
  add_fleet(3);
  Effects off = machine().set_source_healthy("redis", false, now);
  ASSERT_TRUE(off.failsafe_changed.has_value());
  EXPECT_TRUE(*off.failsafe_changed);
  EXPECT_EQ(off.failsafe_reason, "evidence source redis unhealthy");
  dead("ws-0", true, "heartbeat expired");
  Effects fx = at(2s);
  EXPECT_EQ(suppressed(fx), 1u);
  EXPECT_EQ(restarts(fx), 0u);
  EXPECT_EQ(state("ws-0"), State::offline);
  EXPECT_TRUE(at(10min).orders.empty()) << "suppressed once, then waits for the source";
  Effects on = machine().set_source_healthy("redis", true, now);
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(restarts(on), 0u) << "a settle delay for the recovered source's evidence first";
  EXPECT_EQ(restarts(at(10min + 1s)), 1u);
}

TEST_F(FailSafeTest, EverySourceMustBeHealthy) {
  add_fleet(3);
  machine().set_source_healthy("redis", false, now);
  machine().set_source_healthy("engine", false, now);
  machine().set_source_healthy("redis", true, now);
  EXPECT_TRUE(machine().failsafe_active());
  machine().set_source_healthy("engine", true, now);
  EXPECT_FALSE(machine().failsafe_active());
}

TEST_F(FailSafeTest, MarkOfflineOrdersAreSuppressedWhileActive) {
  cfg.restart.via = config::RestartVia::none;
  add_fleet(3);
  machine().set_source_healthy("engine", false, now);
  Effects fx = dead("ws-1");
  EXPECT_EQ(count_orders(fx, RemediationKind::mark_offline, true), 1u);
}

TEST_F(FleetOfTwenty, RemovingDeadTargetsLetsTheFailSafeClear) {
  kill_some(7);
  ASSERT_TRUE(machine().failsafe_active());
  Effects fx;
  for (int i = 0; i < 7; ++i) fx.append(machine().remove("ws-" + std::to_string(i), now));
  EXPECT_FALSE(machine().failsafe_active()) << "0 of 13 went down";
  ASSERT_TRUE(fx.failsafe_changed.has_value());
}

TEST_F(FleetOfTwenty, ReconfiguredFractionAppliesOnTheNextCall) {
  kill_some(7);
  ASSERT_TRUE(machine().failsafe_active());
  cfg.fail_safe.max_offline_fraction = 0.5;
  machine().configure(cfg);
  Effects fx = at(2s);
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(restarts(fx), 7u);
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
