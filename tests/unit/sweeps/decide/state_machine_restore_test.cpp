// StateMachine::restore(): what a previous run left in PostgreSQL (restart
// count, quarantine, the crash-loop window's restarts) holds after the
// daemon restarts, with a fake clock.
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

class RestoreTest : public StateMachineTest {
 protected:
  // "ago" on the wall clock the machine reads (wall0 + (now - t0)).
  std::chrono::system_clock::time_point ago(std::chrono::seconds s) const { return wall0 + (now - t0) - s; }

  Effects restore(const std::string& id, std::uint32_t restarts, bool quarantined,
                  std::vector<std::chrono::system_clock::time_point> recent = {}) {
    return machine().restore(RestoredTarget{id, restarts, quarantined, std::move(recent)}, now);
  }
};

TEST_F(RestoreTest, ARestoredQuarantineHoldsAndTheCountCarriesOn) {
  add("ws-1");
  EXPECT_TRUE(restore("ws-1", 3, true).transitions.empty()) << "unknown: nothing to say yet";
  const Effects fx = dead("ws-1");
  EXPECT_EQ(state("ws-1"), State::quarantined);
  EXPECT_TRUE(fx.orders.empty());
  EXPECT_EQ(machine().find("ws-1")->restarts, 3u);
  EXPECT_TRUE(at(1h).orders.empty()) << "no orders until reset";
  alive("ws-1");
  EXPECT_EQ(state("ws-1"), State::online);
  EXPECT_TRUE(machine().find("ws-1")->quarantined);
  machine().reset("ws-1", now);
  EXPECT_FALSE(machine().find("ws-1")->quarantined);
  EXPECT_EQ(machine().find("ws-1")->restarts, 0u);
}

TEST_F(RestoreTest, ARestoredQuarantineStopsTheRestartAlreadyPlanned) {
  make(2s);
  add("ws-1");
  dead("ws-1");
  ASSERT_EQ(state("ws-1"), State::offline);
  const Effects fx = restore("ws-1", 5, true);
  EXPECT_EQ(last(fx).to, State::quarantined);
  EXPECT_EQ(last(fx).layer, Layer::admin);
  EXPECT_EQ(last(fx).reason, "quarantined before the daemon restarted; reset to retry");
  EXPECT_TRUE(at(1h).orders.empty());
}

TEST_F(RestoreTest, TheBackoffContinuesFromTheRestoredRestarts) {
  add("ws-1");
  restore("ws-1", 1, false, {ago(3s)});  // restarted 3 s before this run looked
  const Effects fx = dead("ws-1");
  EXPECT_TRUE(fx.orders.empty()) << "backoff_initial (10s) after that restart, not at once";
  EXPECT_EQ(machine().next_deadline(), t0 + 7s);
  EXPECT_EQ(restarts(at(7s)), 1u);
  EXPECT_EQ(machine().find("ws-1")->restarts, 2u);
}

TEST_F(RestoreTest, ARestoredHistoryAppliesToARestartAlreadyPlanned) {
  make(1s);
  add("ws-1");
  dead("ws-1");
  ASSERT_EQ(machine().next_deadline(), t0 + 1s);
  restore("ws-1", 1, false, {ago(2s)});
  EXPECT_EQ(machine().next_deadline(), t0 + 8s);
}

TEST_F(RestoreTest, MaxRestartsWithinTheWindowIsACrashLoopAtOnce) {
  cfg.restart.max_restarts = 3;
  add("ws-1");
  restore("ws-1", 7, false, {ago(300s), ago(200s), ago(100s)});
  const Effects fx = dead("ws-1");
  EXPECT_EQ(state("ws-1"), State::quarantined);
  EXPECT_TRUE(fx.orders.empty());
  EXPECT_EQ(machine().find("ws-1")->reason.view(), "crash loop: 3 restarts within 10m; reset to retry");
}

TEST_F(RestoreTest, RestartsOlderThanTheWindowAreForgotten) {
  cfg.restart.max_restarts = 1;
  add("ws-1");
  restore("ws-1", 4, false, {ago(11min), ago(20min)});  // window 10m
  const Effects fx = dead("ws-1");
  EXPECT_EQ(restarts(fx), 1u) << "no backoff, no crash loop: at once";
  EXPECT_EQ(machine().find("ws-1")->restarts, 5u);
}

TEST_F(RestoreTest, AnOnlineTargetForgetsTheRestoredHistoryAfterTheWindow) {
  cfg.restart.max_restarts = 2;
  add("ws-1");
  alive("ws-1");
  restore("ws-1", 1, false, {ago(1s)});
  EXPECT_EQ(machine().next_deadline(), t0 + 10min);
  at(10min);
  dead("ws-1");
  EXPECT_EQ(state("ws-1"), State::restarting) << "history forgotten: restarted at once";
}

TEST_F(RestoreTest, AnUnknownIdIsNothing) {
  EXPECT_TRUE(restore("nobody", 3, true, {ago(1s)}).empty());
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
