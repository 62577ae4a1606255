// The fleet-wide fail-safe (issue 14): the counts the live peers publish
// join this instance's, so restarts here are held while the whole fleet is
// down beyond the fraction, and released when it recovers.
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

// Ten targets here, alive, settle 1 s; a peer with ten more.
class PeersTest : public StateMachineTest {
 protected:
  void SetUp() override {
    make(1s);
    add_fleet_online(10);
  }
  Effects peers(std::size_t targets, std::size_t offline, std::size_t instances = 1) {
    return machine().set_peer_counts(PeerCounts{targets, offline, instances}, now);
  }
};

TEST_F(PeersTest, AHeldRestartIsReleasedOneSettleDelayAfterThePeersRecover) {
  Effects trip = peers(10, 7);  // 7 of 20: above 30 % with nothing down here
  ASSERT_TRUE(trip.failsafe_changed.has_value());
  EXPECT_TRUE(*trip.failsafe_changed);
  EXPECT_EQ(trip.failsafe_reason, "fleet: 7 of 20 targets offline (35%) across 2 instances (max 30%); here 0 of "
                                  "10 went offline within 1m");
  dead("ws-0");  // 1 of 10 here: alone, never a trip
  Effects held = at(2s);
  EXPECT_EQ(restarts(held), 0u);
  EXPECT_EQ(suppressed(held), 1u);
  EXPECT_TRUE(at(30s).orders.empty()) << "held, not ordered again while the fleet is down";

  Effects recovered = peers(10, 1);  // 2 of 20
  ASSERT_TRUE(recovered.failsafe_changed.has_value());
  EXPECT_FALSE(*recovered.failsafe_changed);
  EXPECT_EQ(recovered.failsafe_reason, "recovered: fleet: 2 of 20 targets offline (10%) across 2 instances (max "
                                       "30%); here 1 of 10 offline, 1 went offline within 1m");
  EXPECT_EQ(restarts(recovered), 0u) << "a settle delay first, as after any recovery";
  Effects released = at(31s);
  EXPECT_EQ(restarts(released), 1u);
  EXPECT_EQ(state("ws-0"), State::restarting);
}

TEST_F(PeersTest, AHeldRestartStaysHeldWhileThePeersAreStillDownBeyondTheFraction) {
  peers(10, 7);
  dead("ws-0");
  at(2s);
  Effects fewer = peers(10, 6);  // 7 of 20 with the one here: still above
  EXPECT_FALSE(fewer.failsafe_changed.has_value());
  EXPECT_TRUE(machine().failsafe_active());
  EXPECT_EQ(restarts(at(10min)), 0u) << "the window sliding past changes nothing: the peers are offline now";
  EXPECT_TRUE(machine().failsafe_active());
}

TEST_F(PeersTest, PeersTrippingItHoldARestartAlreadyWaitingForItsSettleDelay) {
  dead("ws-0");  // due at t0 + 1s
  now = t0 + 500ms;
  Effects trip = peers(10, 7);
  ASSERT_TRUE(trip.failsafe_changed.has_value());
  Effects due = at(1s);
  EXPECT_EQ(restarts(due), 0u);
  EXPECT_EQ(suppressed(due), 1u);
}

TEST_F(PeersTest, WithoutPeersDownThisInstanceRestartsAsAlone) {
  peers(10, 0);
  dead("ws-0");
  dead("ws-1");  // 2 of 20
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(restarts(at(1s)), 2u);
}

TEST_F(PeersTest, UnchangedCountsDecideNothingAgain) {
  peers(10, 7);
  ASSERT_TRUE(machine().failsafe_active());
  Effects again = peers(10, 7);
  EXPECT_FALSE(again.failsafe_changed.has_value());
  EXPECT_TRUE(again.orders.empty());
  EXPECT_EQ(machine().peer_counts(), (PeerCounts{10, 7, 1}));
}

TEST_F(PeersTest, APeerLeavingTakesItsCountsAlong) {
  peers(10, 7);
  ASSERT_TRUE(machine().failsafe_active());
  Effects gone = peers(0, 0, 0);  // its lease expired: its targets come back with their new owner
  ASSERT_TRUE(gone.failsafe_changed.has_value());
  EXPECT_FALSE(machine().failsafe_active());
  EXPECT_EQ(gone.failsafe_reason, "recovered: 0 of 10 targets offline, 0 went offline within 1m (max 30%)")
      << "alone again: the reason of one instance";
}

class SmallInstance : public StateMachineTest {};

TEST_F(SmallInstance, MinTargetsCountsThePeersTargets) {
  make(1s);
  add_fleet(5);  // min_targets is 10
  for (int i = 0; i < 4; ++i) dead("ws-" + std::to_string(i));
  EXPECT_FALSE(machine().failsafe_active()) << "4 of 5, but 5 targets are below min_targets";
  Effects trip = machine().set_peer_counts(PeerCounts{5, 0, 1}, now);
  EXPECT_TRUE(machine().failsafe_active()) << "4 of 10 over the fleet, which reaches min_targets";
  ASSERT_TRUE(trip.failsafe_changed.has_value());
  Effects due = at(2s);
  EXPECT_EQ(restarts(due), 0u);
  EXPECT_EQ(suppressed(due), 4u);
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
