// One deadline heap for the fleet: next_deadline() says when tick() has
// work, and tick() does exactly the work that is due.
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

using DeadlineTest = StateMachineTest;

TEST_F(DeadlineTest, NothingPendingMeansNoDeadline) {
  add_fleet(5);
  alive("ws-0");
  EXPECT_FALSE(machine().next_deadline().has_value());
  EXPECT_TRUE(at(1h).empty());
}

TEST_F(DeadlineTest, SettleThenGraceThenBackoff) {
  make(2s);
  add("ws-1");
  dead("ws-1");
  EXPECT_EQ(machine().next_deadline(), t0 + 2s);
  at(2s);
  EXPECT_EQ(machine().next_deadline(), t0 + 32s) << "startup grace from the restart";
  machine().remediation_result("ws-1", RemediationKind::restart, false, "boom", now);
  EXPECT_EQ(machine().next_deadline(), t0 + 12s) << "backoff 10s after the restart";
}

TEST_F(DeadlineTest, CancelledDeadlinesAreSkipped) {
  make(5s);
  add("ws-1");
  dead("ws-1");
  ASSERT_TRUE(machine().next_deadline().has_value());
  alive("ws-1");
  EXPECT_FALSE(machine().next_deadline().has_value());
  EXPECT_TRUE(at(10s).orders.empty());
}

TEST_F(DeadlineTest, TickBeforeTheDeadlineDoesNothing) {
  make(5s);
  add("ws-1");
  dead("ws-1");
  EXPECT_TRUE(at(4999ms).empty());
  EXPECT_EQ(restarts(at(5s)), 1u);
}

TEST_F(DeadlineTest, EarliestDeadlineAcrossAThousandTargets) {
  cfg.fail_safe.min_targets = 100000;  // this test is about timers, not the fail-safe
  make(10s);
  add_fleet(1000);
  // Target i goes offline at t0 + (999 - i) ms: the last one added is due first.
  for (int i = 0; i < 1000; ++i) {
    now = t0 + std::chrono::milliseconds(999 - i);
    dead("ws-" + std::to_string(i));
  }
  EXPECT_EQ(machine().next_deadline(), t0 + 10s);
  Effects first = at(10s);
  ASSERT_EQ(first.orders.size(), 1u);
  EXPECT_EQ(first.orders[0].target, "ws-999");
  Effects batch = at(10s + 499ms);
  EXPECT_EQ(restarts(batch), 499u);
  EXPECT_EQ(machine().next_deadline(), t0 + 10s + 500ms);
}

TEST_F(DeadlineTest, LateTickRunsEveryDueDeadlineInOrder) {
  make(1s);
  add_fleet(3);
  dead("ws-0");
  now += 500ms;
  dead("ws-1");
  Effects fx = at(1h);
  ASSERT_EQ(restarts(fx), 2u);
  EXPECT_EQ(fx.orders[0].target, "ws-0");
  EXPECT_EQ(fx.orders[1].target, "ws-1");
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
