// The passive layer in-process, reconfigured (a config reload) from a plain
// Redis URL onto Redis Sentinel: it moves to the master the sentinels name,
// and from then on follows their failovers.
#include "tests/integration/passive_harness.hpp"
#include "tests/support/redis_sentinel.hpp"

namespace healthsweep::sweeps::passive_test {
namespace {

using healthsweep::testing::RedisSentinelSet;
using healthsweep::testing::RedisServer;

TEST(PassiveSentinel, AReloadOntoSentinelsMovesToTheirMasterAndFollowsItsFailover) {
  HS_REQUIRE_REDIS(plain);
  HS_REQUIRE_REDIS_SENTINEL(set);
  RedisServer* master = set->master();
  ASSERT_NE(master, nullptr);
  plain->client()->run({"SET", "hb:a", "1", "PX", "600000"});
  master->client()->run({"SET", "hb:a", "1", "PX", "600000"});
  master->client()->run({"SET", "hb:b", "1", "PX", "600000"});  // only the sentinels' master has b
  PassiveHarness h(redis_config(plain->url(), 300ms), fast_options(30s));
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  EXPECT_EQ(h.count("b", Verdict::alive), 0);

  auto cfg = redis_config("redis://127.0.0.1:1/0", 300ms);  // the URL gives only the db now
  for (int i = 0; i < 3; ++i)
    cfg.sentinels.push_back({"127.0.0.1", static_cast<std::uint16_t>(set->sentinel(i).port())});
  cfg.master_name = RedisSentinelSet::master_name;
  h.layer->reconfigure(cfg);
  EXPECT_FALSE(h.layer->source_healthy());
  ASSERT_TRUE(h.run_until([&] { return h.count("b", Verdict::alive) > 0 && h.layer->source_healthy(); }, 15s));
  plain->kill();  // out of the picture

  // The replica has every key (replicated); the failover is followed.
  ASSERT_EQ(set->failover(30s), "") << set->logs();
  ASSERT_TRUE(h.run_until([&] { return h.health.size() >= 5 && h.layer->source_healthy(); }, 15s))
      << "health changes: " << h.health.size();
  // Through the watch started by the reload: the old master is still one
  // (the sentinels demote it, dropping its clients, only ~10 s later).
  EXPECT_TRUE(master->client()->run({"ROLE"}).starts_with("master"));
  EXPECT_EQ(h.health, (std::vector<bool>{true, false, true, false, true}));
  h.run_for(500ms);
  EXPECT_EQ(h.count(Verdict::dead), 0);
  EXPECT_TRUE(h.layer->source_healthy());
}

}  // namespace
}  // namespace healthsweep::sweeps::passive_test
