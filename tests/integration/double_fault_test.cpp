// Issue 13 section 4, two faults at once: Redis restarts empty (every
// heartbeat key gone) at the moment 30 % of the targets really die. The
// daemon must restart nobody while it cannot tell the two apart, and once
// it has reconnected and reconciled (and the restarted server's grace has
// passed: live targets re-create their keys within a heartbeat) exactly the
// dead ones, each once. Real daemon, real Redis, restart orders counted at
// a webhook. The grace is redis.grace, 5 s here (60 s by default): the test
// also shows the daemon takes it from the config.
#include <gtest/gtest.h>

#include "tests/integration/fault_fleet.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(DoubleFault, RedisRestartedEmptyWhileThirtyPercentDieRestartsExactlyTheDeadAfterTheReconciliation) {
  HS_REQUIRE_REDIS(redis);
  const auto ids = fleet_ids("df-", 20);
  const std::vector<std::string> dead(ids.begin(), ids.begin() + 6);  // 30 %
  const std::vector<std::string> live(ids.begin() + 6, ids.end());
  Heartbeater hb(*redis, ids, 2000ms, 400ms);
  StatusServer hook(200);
  ASSERT_NE(hook.port, 0) << hook.process.log();
  // The fail-safe would pause at more than half: 30 % dying proceeds, and a
  // daemon that took the emptied Redis for a dead fleet shows it as 20
  // transitions to offline (and suppressed orders), not as silence.
  Daemon d("redis:\n  url: \"" + redis->url() + "\"\n  reconcile_interval: 1s\n  grace: 5s\n" + static_targets_yaml(ids) +
           webhook_remediation_yaml(hook.url("/restart"), "max_offline_fraction: 0.5, min_targets: 10, window: 10m") +
           "liveness: { stale_after: 5s }\n");
  ASSERT_TRUE(eventually([&] { return not_in_state(d, ids, "online").empty(); }, 20s)) << d.log();
  // The line of a session that is up (not "... until reconnected and reconciled").
  const std::string reconciled = " connected and reconciled (";
  ASSERT_EQ(occurrences(d.log(), reconciled), 1u) << d.log();

  // Both faults at once: the six stop heart-beating and Redis comes back
  // empty on the same port.
  for (const auto& id : dead) hb.die(id);
  ASSERT_TRUE(redis->restart()) << redis->log();

  // Reconnected and reconciled against the new server: nobody restarted,
  // nobody offline yet (their keys are missing, but so were everyone's).
  ASSERT_TRUE(eventually([&] { return occurrences(d.log(), reconciled) >= 2; }, 30s)) << d.log();
  EXPECT_NE(d.log().find("redis server changed (run_id"), std::string::npos) << d.log();
  EXPECT_EQ(restart_orders(hook), (std::map<std::string, int>{}));
  EXPECT_EQ(offline_transitions(d), 0) << d.log();

  // Then the dead ones, after the grace that the restarted server earns
  // (redis.grace, 5 s: a live target re-creates its key within 0.4 s). Well
  // before the default grace of 60 s would have let them go.
  ASSERT_TRUE(eventually([&] { return not_in_state(d, dead, "restarting").empty(); }, 45s)) << d.log();
  // ... and nothing else, also over the next heart-beats and reconciliations.
  ASSERT_TRUE(hb.wait_rounds(10));
  EXPECT_EQ(restart_orders(hook), once_each(dead)) << d.log();
  EXPECT_EQ(not_in_state(d, live, "online"), std::vector<std::string>{}) << d.log();
  EXPECT_EQ(offline_transitions(d), 6) << d.log();
  EXPECT_EQ(metric(d, "healthsweep_remediations_total{action=\"restart\",result=\"suppressed\"}"), 0);
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 0);
  // Every verdict came after the reconciliation that followed the reconnect.
  const auto log = d.log();
  const auto first_offline = log.find("-> offline");
  ASSERT_NE(first_offline, std::string::npos);
  EXPECT_GT(first_offline, log.find(reconciled, log.find(reconciled) + 1)) << log;
  for (const auto& id : dead)
    EXPECT_NE(log.find("target " + id + ": online -> offline (passive:"), std::string::npos) << id << "\n" << log;
}
