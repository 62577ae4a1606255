// The pure rules of remediation_policy.hpp.
#include <gtest/gtest.h>

#include "sweeps/decide/remediation_policy.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
namespace {

using namespace std::chrono_literals;
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(RemediationPolicy, KindFollowsViaAndContainer) {
  config::Restart r;
  const std::string_view with = "c", without = "";  // the target's container
  EXPECT_EQ(remediation_kind(r, with), RemediationKind::restart);
  EXPECT_EQ(remediation_kind(r, without), RemediationKind::mark_offline);
  r.via = config::RestartVia::webhook;
  EXPECT_EQ(remediation_kind(r, without), RemediationKind::webhook);
  r.via = config::RestartVia::none;
  EXPECT_EQ(remediation_kind(r, with), RemediationKind::mark_offline);
  r.via = config::RestartVia::engine;
  r.enabled = false;
  EXPECT_EQ(remediation_kind(r, with), RemediationKind::mark_offline);
}

TEST(RemediationPolicy, BackoffDoublesFromInitialAndIsCapped) {
  config::Restart r;
  r.backoff_initial = 10s;
  r.backoff_max = 5min;
  EXPECT_EQ(backoff_delay(r, 0), 0s);
  EXPECT_EQ(backoff_delay(r, 1), 10s);
  EXPECT_EQ(backoff_delay(r, 2), 20s);
  EXPECT_EQ(backoff_delay(r, 3), 40s);
  EXPECT_EQ(backoff_delay(r, 5), 160s);
  EXPECT_EQ(backoff_delay(r, 6), 5min);
  EXPECT_EQ(backoff_delay(r, 4000000000u), 5min) << "no overflow";
}

TEST(RemediationPolicy, RestartIsDueAfterSettleOrBackoffWhicheverIsLater) {
  config::Restart r;
  r.backoff_initial = 10s;
  EXPECT_EQ(restart_due(nullptr, t0, 1s, r), t0 + 1s);
  RestartHistory h;
  h.in_incident = 2;
  h.last = t0;
  EXPECT_EQ(restart_due(&h, t0 + 5s, 1s, r), t0 + 20s);
  EXPECT_EQ(restart_due(&h, t0 + 30s, 1s, r), t0 + 31s);
}

TEST(RemediationPolicy, CrashLoopCountsOnlyRestartsWithinTheWindow) {
  config::Restart r;
  r.max_restarts = 3;
  r.window = 10min;
  RestartHistory h;
  h.recent = {t0, t0 + 1min, t0 + 2min};
  EXPECT_TRUE(crash_loop(&h, t0 + 5min, r));
  EXPECT_FALSE(crash_loop(&h, t0 + 10min, r)) << "the first one left the window";
  EXPECT_EQ(h.recent.size(), 2u);
  EXPECT_FALSE(crash_loop(nullptr, t0, r));
  r.max_restarts = 0;
  EXPECT_TRUE(crash_loop(nullptr, t0, r)) << "max_restarts 0: never restart";
}

TEST(RemediationPolicy, DurationsAreFormattedForPeople) {
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(10min), "10m");
  EXPECT_EQ(format_duration(90min + 5s), "1h30m5s");
  EXPECT_EQ(format_duration(0ms), "0s");
}

config::FailSafe fail_safe() {
  config::FailSafe f;
  f.max_offline_fraction = 0.3;
  f.min_targets = 10;
  f.window = 60s;
  return f;
}

TEST(RemediationPolicy, FailSafeTripsAboveTheFractionOnly) {
  EXPECT_FALSE(decide_failsafe(fail_safe(), {20, 6, 6, {}}, false).active);
  const auto d = decide_failsafe(fail_safe(), {20, 7, 7, {}}, false);
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.reason, "7 of 20 targets went offline within 1m (max 30%)");
}

TEST(RemediationPolicy, FailSafeNeedsMinTargets) {
  EXPECT_FALSE(decide_failsafe(fail_safe(), {9, 9, 9, {}}, false).active);
}

TEST(RemediationPolicy, FailSafeHoldsWhileTheFleetIsStillDown) {
  EXPECT_TRUE(decide_failsafe(fail_safe(), {20, 0, 10, {}}, true).active);
  EXPECT_FALSE(decide_failsafe(fail_safe(), {20, 0, 10, {}}, false).active) << "slow decline does not trip";
  const auto cleared = decide_failsafe(fail_safe(), {20, 2, 6, {}}, true);
  EXPECT_FALSE(cleared.active);
  EXPECT_EQ(cleared.reason, "recovered: 6 of 20 targets offline, 2 went offline within 1m (max 30%)");
}

TEST(RemediationPolicy, UnhealthySourceAlwaysTrips) {
  const auto d = decide_failsafe(fail_safe(), {1, 0, 0, "redis"}, false);
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.reason, "evidence source redis unhealthy");
  EXPECT_TRUE(decide_failsafe(fail_safe(), {1, 0, 0, {}}, true).reason.size() > 0);
}

// Several instances: the live peers' published counts join this instance's.
FleetSnapshot with_peers(FleetSnapshot here, std::size_t targets, std::size_t offline, std::size_t instances) {
  here.peers = PeerCounts{targets, offline, instances};
  return here;
}

TEST(RemediationPolicy, TheFleetTripsItWhenThisInstancesShareIsBelowTheFraction) {
  const FleetSnapshot here{10, 1, 1, {}};
  EXPECT_FALSE(decide_failsafe(fail_safe(), here, false).active) << "1 of 10 here alone";
  const auto d = decide_failsafe(fail_safe(), with_peers(here, 10, 7, 1), false);
  EXPECT_TRUE(d.active) << "8 of 20 over the fleet";
  EXPECT_EQ(d.reason, "fleet: 8 of 20 targets offline (40%) across 2 instances (max 30%); here 1 of 10 went "
                      "offline within 1m");
  EXPECT_FALSE(decide_failsafe(fail_safe(), with_peers(here, 10, 5, 1), false).active) << "6 of 20: not above";
}

TEST(RemediationPolicy, PeersOfflineCountAsWentOfflineWithinTheWindow) {
  // Peers publish only "offline now": counted as recent too, the fleet trips
  // (a slow decline on a peer looks like a burst here: the safe side).
  const auto d = decide_failsafe(fail_safe(), with_peers({10, 0, 0, {}}, 10, 7, 2), false);
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.reason, "fleet: 7 of 20 targets offline (35%) across 3 instances (max 30%); here 0 of 10 went "
                      "offline within 1m");
}

TEST(RemediationPolicy, MinTargetsAppliesToTheWholeFleet) {
  EXPECT_FALSE(decide_failsafe(fail_safe(), {6, 6, 6, {}}, false).active) << "6 targets here: below min_targets";
  EXPECT_TRUE(decide_failsafe(fail_safe(), with_peers({6, 6, 6, {}}, 4, 0, 1), false).active)
      << "10 over the fleet: min_targets reached";
  EXPECT_FALSE(decide_failsafe(fail_safe(), with_peers({3, 0, 0, {}}, 6, 6, 1), false).active)
      << "9 over the fleet: below min_targets however many are down";
}

TEST(RemediationPolicy, TheFleetRecoveringReleasesItAndSaysWhy) {
  const FleetSnapshot here{10, 1, 1, {}};
  EXPECT_TRUE(decide_failsafe(fail_safe(), with_peers(here, 10, 6, 1), true).active)
      << "held: 7 of 20 still offline";
  const auto d = decide_failsafe(fail_safe(), with_peers(here, 10, 2, 1), true);
  EXPECT_FALSE(d.active);
  EXPECT_EQ(d.reason, "recovered: fleet: 3 of 20 targets offline (15%) across 2 instances (max 30%); here 1 of "
                      "10 offline, 1 went offline within 1m");
}

TEST(RemediationPolicy, ShareJustAboveTheLimitDoesNotReadAsTheLimit) {
  const auto d = decide_failsafe(fail_safe(), with_peers({500, 0, 0, {}}, 500, 301, 1), false);
  ASSERT_TRUE(d.active);
  EXPECT_NE(d.reason.find("(30.1%)"), std::string::npos) << d.reason;
}

TEST(RemediationPolicy, AnUnhealthySourceIsNamedBeforeTheFleet) {
  const auto d = decide_failsafe(fail_safe(), with_peers({10, 0, 0, "engine"}, 10, 9, 1), false);
  EXPECT_EQ(d.reason, "evidence source engine unhealthy");
}

TEST(RemediationPolicy, DownWindowCountsEachTargetOnce) {
  DownWindow w;
  auto current = [](const DownWindow::Entry&) { return true; };
  w.expire(t0, 60s, current);
  w.add({t0, 1, 0}, std::nullopt, t0, 60s);
  w.add({t0 + 1s, 2, 0}, std::nullopt, t0 + 1s, 60s);
  w.add({t0 + 2s, 1, 0}, t0, t0 + 2s, 60s);  // slot 1 again
  EXPECT_EQ(w.count(), 2u);
  EXPECT_EQ(w.next_expiry(), t0 + 60s);
  // slot 1's first entry is stale now: leaving the window it changes nothing.
  w.expire(t0 + 60s, 60s, [&](const DownWindow::Entry& e) { return !(e.slot == 1 && e.at == t0); });
  EXPECT_EQ(w.count(), 2u);
  w.expire(t0 + 62s, 60s, current);
  EXPECT_EQ(w.count(), 0u);
  EXPECT_FALSE(w.next_expiry().has_value());
}

}  // namespace
}  // namespace healthsweep::sweeps
