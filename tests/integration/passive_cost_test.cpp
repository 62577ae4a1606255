// Issue 15's cheaper passive layer against a real redis-server: refreshes
// predicted instead of one PTTL each, one notification class per refresh,
// and a periodic reconciliation spread over the interval (EXISTS batches, no
// SCAN) that still finds what the notifications missed. Counted with Redis'
// own INFO commandstats.
#include "tests/integration/passive_harness.hpp"

#include <cstdio>

namespace healthsweep::sweeps::passive_test {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

using healthsweep::testing::RedisServer;
using healthsweep::testing::RedisTestClient;

// Calls of one command since the server started (0 when never called).
long long calls(RedisTestClient& cli, const std::string& command) {
  const auto info = cli.run({"INFO", "commandstats"});
  const auto tag = "cmdstat_" + command + ":calls=";
  const auto at = info.find(tag);
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + tag.size()));
}

std::vector<std::string> numbered(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(std::string("t-") + std::to_string(i));
  return ids;
}

// Issue 15: "a reconciliation spread over time still finds a key deleted
// without notification".
TEST(PassiveCost, SpreadReconciliationFindsAKeyDeletedWithoutNotification) {
  HS_REQUIRE_REDIS(redis);
  PassiveHarness h(redis_config(redis->url(), 1s), fast_options());
  auto cli = redis->client();
  const auto ids = numbered(350);  // four EXISTS batches of at most 100
  std::vector<std::vector<std::string>> sets;
  for (const auto& id : ids) sets.push_back({"SET", "hb:" + id, "1", "EX", "600"});
  ASSERT_EQ(cli->pipeline(sets), 0);
  h.layer->set_targets(ids, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  ASSERT_EQ(h.count(Verdict::alive), 350);
  const auto scans = calls(*cli, "scan");
  const auto exists0 = calls(*cli, "exists");

  // No notification for what follows: the server stops sending them.
  ASSERT_EQ(cli->run({"CONFIG", "SET", "notify-keyspace-events", ""}), "OK");
  const auto deleted = Clock::now();
  ASSERT_EQ(cli->integer({"DEL", "hb:t-342"}), 1);
  ASSERT_TRUE(h.run_until([&] { return h.count("t-342", Verdict::dead) > 0; }, 4s));
  const auto* dead = h.first("t-342", Verdict::dead);
  EXPECT_EQ(dead->evidence.reason, "heartbeat key deleted");
  const double after_ms = ms_between(deleted, dead->at);
  std::printf("[ passive ] DEL without notification: verdict %.0f ms after (reconcile_interval 1000 ms)\n", after_ms);
  EXPECT_LE(after_ms, 2500) << "within one interval plus one spread pass";
  EXPECT_EQ(h.count(Verdict::dead), 1) << "no other target judged dead";

  // The periodic pass is EXISTS batches, not a SCAN of the keyspace, and
  // it was spread: several round trips, one per batch here.
  EXPECT_EQ(calls(*cli, "scan"), scans) << "no SCAN after the session's first reconciliation";
  EXPECT_GE(calls(*cli, "exists") - exists0, 4);
}

TEST(PassiveCost, KeyAppearingWithoutNotificationIsFoundBySpreadReconciliation) {
  HS_REQUIRE_REDIS(redis);
  PassiveHarness h(redis_config(redis->url(), 500ms), fast_options(30s));
  auto cli = redis->client();
  h.layer->set_targets({"late"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  ASSERT_EQ(cli->run({"CONFIG", "SET", "notify-keyspace-events", ""}), "OK");
  cli->run({"SET", "hb:late", "1", "EX", "600"});
  ASSERT_TRUE(h.run_until([&] { return h.count("late", Verdict::alive) > 0; }, 3s));
  EXPECT_EQ(h.count("late", Verdict::dead), 0);
}

TEST(PassiveCost, RefreshesArePredictedAndALapseIsStillJudgedAtItsDeadline) {
  HS_REQUIRE_REDIS(redis);
  auto opts = fast_options();
  opts.ttl_sample_every = 10;
  PassiveHarness h(redis_config(redis->url(), 10s), opts);
  auto cli = redis->client();
  const auto ids = numbered(20);
  const auto beat_all = [&](bool with_last) {
    std::vector<std::vector<std::string>> sets;
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (with_last || i + 1 < ids.size()) sets.push_back({"SET", "hb:" + ids[i], "1", "PX", "1000"});
    cli->pipeline(sets);
  };
  beat_all(true);
  h.layer->set_targets(ids, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  const auto pttl0 = calls(*cli, "pttl");
  int refreshes = 0;
  auto last = Clock::now();
  h.run_for(3s, [&] {
    if (Clock::now() - last < 100ms) return;
    beat_all(true);
    refreshes += static_cast<int>(ids.size());
    last = Clock::now();
  });
  const auto pttls = calls(*cli, "pttl") - pttl0;
  std::printf("[ passive ] %d refreshes cost %lld PTTLs\n", refreshes, pttls);
  EXPECT_LE(pttls, refreshes / 5) << "one refresh in ten measured (plus the first of each key)";
  EXPECT_EQ(h.count(Verdict::dead), 0) << "a predicted key is never judged dead";

  // t-19 stops: the deadline predicted from its last refresh is confirmed.
  const auto stopped = Clock::now();
  ASSERT_TRUE(h.run_until([&] { return h.count("t-19", Verdict::dead) > 0; }, 3s, [&] {
    if (Clock::now() - last < 100ms) return;
    beat_all(false);
    last = Clock::now();
  }));
  const auto* dead = h.first("t-19", Verdict::dead);
  EXPECT_EQ(dead->evidence.reason, "heartbeat expired");
  EXPECT_LE(dead->evidence.observed_at, stopped + 1000ms) << "observed at the key's own deadline";
  EXPECT_GE(dead->evidence.observed_at, stopped + 1000ms - 150ms);
  EXPECT_LE(ms_between(dead->evidence.observed_at, dead->at), 200) << "judged at the deadline, not later";
  EXPECT_EQ(h.count(Verdict::dead), 1);
}

TEST(PassiveCost, OnlyOneNotificationClassPerRefreshIsRequested) {
  HS_REQUIRE_REDIS(redis);
  PassiveHarness h(redis_config(redis->url(), 10s), fast_options());
  auto cli = redis->client();
  ASSERT_EQ(cli->run({"CONFIG", "SET", "notify-keyspace-events", ""}), "OK");
  h.layer->set_targets({"a"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  const auto flags = cli->run({"CONFIG", "GET", "notify-keyspace-events"});
  EXPECT_NE(flags.find('g'), std::string::npos) << flags;
  EXPECT_EQ(flags.find('$'), std::string::npos) << "SET ... EX sends `expire` (g) already: " << flags;
  // ...and SET ... EX alone is enough to make the target alive.
  cli->run({"SET", "hb:a", "1", "EX", "600"});
  ASSERT_TRUE(h.run_until([&] { return h.count("a", Verdict::alive) > 0; }, 2s));
}

}  // namespace
}  // namespace healthsweep::sweeps::passive_test
