// Passive layer when Redis goes away: killed and restarted (keys lost),
// hung (SIGSTOP), or replaced by a reload. No target may be declared dead on
// missing evidence; the source reports itself unhealthy and recovers.
#include "tests/integration/passive_harness.hpp"

#include <cstdio>

namespace healthsweep::sweeps::passive_test {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

using healthsweep::testing::RedisServer;

bool status_is(const metrics::LivenessRegistry& live, metrics::Subsystem s, metrics::Status want) {
  for (const auto& v : live.view().subsystems)
    if (v.subsystem == s) return v.status == want;
  return false;
}

TEST(PassiveLayer, RedisKilledAndRestartedGivesNoFalseDeathAndRecovers) {
  HS_REQUIRE_REDIS(redis);
  // `redis` goes stale 1 s after its last tick, so the outage shows in liveness.
  PassiveHarness h(redis_config(redis->url(), 300ms), fast_options(2s), 1s);
  auto cli = redis->client();
  bool a_beats = true, b_beats = true;
  auto last = Clock::now() - 1s;
  const auto heartbeats = [&] {  // TTL 1.5 s, refreshed every 200 ms; errors ignored while Redis is down
    if (Clock::now() - last < 200ms || !redis->running()) return;
    last = Clock::now();
    if (a_beats) cli->run({"SET", "hb:a", "1", "PX", "1500"});
    if (b_beats) cli->run({"SET", "hb:b", "1", "PX", "1500"});
  };
  heartbeats();
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.run_until([&] { return h.layer->source_healthy(); }, 10s, heartbeats));
  h.run_for(500ms, heartbeats);
  ASSERT_EQ(h.count(Verdict::alive), 2);

  redis->kill();
  const auto killed = Clock::now();
  ASSERT_TRUE(h.run_until([&] { return !h.layer->source_healthy(); }, 5s));
  std::printf("[ passive ] Redis killed: source unhealthy after %.1f ms\n", ms_between(killed, Clock::now()));
  EXPECT_EQ(h.health, (std::vector<bool>{true, false}));
  // Every heartbeat's TTL passes while Redis is gone: still no verdict.
  h.run_for(2500ms);
  EXPECT_EQ(h.count(Verdict::dead), 0) << "no target is declared dead on missing evidence";
  EXPECT_TRUE(status_is(h.live, metrics::Subsystem::redis, metrics::Status::stale));

  b_beats = false;  // b stops for real while Redis is down
  ASSERT_TRUE(redis->restart());
  const auto restarted = Clock::now();
  ASSERT_TRUE(h.run_until([&] { return h.layer->source_healthy(); }, 10s, heartbeats));
  std::printf("[ passive ] Redis restarted: reconnected and reconciled after %.1f ms\n",
              ms_between(restarted, Clock::now()));
  EXPECT_EQ(h.health, (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(status_is(h.live, metrics::Subsystem::redis, metrics::Status::ok));

  // The restarted server has lost every key: b counts as dead only after a
  // full grace from the reconnection; a, heart-beating again, never.
  ASSERT_TRUE(h.run_until([&] { return h.count("b", Verdict::dead) > 0; }, 10s, heartbeats));
  EXPECT_GE(h.first("b", Verdict::dead)->at, restarted + 2s);
  h.run_for(500ms, heartbeats);
  EXPECT_EQ(h.count("a", Verdict::dead), 0);
  EXPECT_EQ(h.count("b", Verdict::dead), 1);
}

TEST(PassiveLayer, HungRedisIsAnOutageNotADeath) {
  HS_REQUIRE_REDIS(redis);
  auto opts = fast_options(2s);
  opts.command_timeout = 500ms;
  PassiveHarness h(redis_config(redis->url(), 200ms), opts);
  auto cli = redis->client();
  cli->run({"SET", "hb:a", "1", "PX", "1500"});
  cli->run({"SET", "hb:b", "1", "PX", "60000"});
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());

  redis->pause();
  ASSERT_TRUE(h.run_until([&] { return !h.layer->source_healthy(); }, 5s)) << "command timeout noticed";
  h.run_for(2000ms);  // a's deadline passes while Redis is silent
  EXPECT_EQ(h.count(Verdict::dead), 0);
  redis->resume();

  ASSERT_TRUE(h.wait_healthy());
  // Same server, keys intact: a's lapse during the outage is a real one and
  // is reported after the reconciliation, observed at its deadline.
  ASSERT_TRUE(h.run_until([&] { return h.count("a", Verdict::dead) > 0; }, 5s));
  EXPECT_EQ(h.first("a", Verdict::dead)->evidence.reason, "heartbeat expired");
  h.run_for(300ms);
  EXPECT_EQ(h.count("b", Verdict::dead), 0);
}

TEST(PassiveLayer, RedisLoadingItsDatasetIsAnOutageUntilLoaded) {
  HS_REQUIRE_REDIS(redis);
  auto cli = redis->client();
  std::vector<std::vector<std::string>> filler;
  for (int i = 0; i < 20000; ++i) filler.push_back({"SET", std::string("f:").append(std::to_string(i)), "1"});
  ASSERT_EQ(cli->pipeline(filler), 0);
  cli->run({"SET", "hb:a", "1", "PX", "120000"});
  cli->run({"SET", "hb:b", "1", "PX", "120000"});
  ASSERT_EQ(cli->run({"SAVE"}), "OK");
  PassiveHarness h(redis_config(redis->url(), 300ms), fast_options(500ms));
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());

  // Restarted with the snapshot, loaded slowly (200 us a key: ~4 s), answering
  // -LOADING meanwhile.
  redis->kill();
  ASSERT_TRUE(redis->restart({"key-load-delay 200", "loading-process-events-interval-bytes 1024"}, false));
  bool saw_loading = false;
  const auto watch = [&] { saw_loading = saw_loading || cli->run({"PING"}).find("LOADING") != std::string::npos; };
  ASSERT_TRUE(h.run_until([&] { return !h.layer->source_healthy(); }, 5s, watch));
  ASSERT_TRUE(h.run_until([&] { return h.layer->source_healthy(); }, 30s, watch));
  EXPECT_TRUE(saw_loading) << "the test did not catch Redis loading";
  EXPECT_EQ(h.health, (std::vector<bool>{true, false, true}));
  h.run_for(1s);
  EXPECT_EQ(h.count(Verdict::dead), 0) << "the keys came back with the snapshot";
}

TEST(PassiveLayer, ReconfigureMovesToAnotherServerAndReconciles) {
  HS_REQUIRE_REDIS(first);
  HS_REQUIRE_REDIS(second);
  first->client()->run({"SET", "hb:a", "1", "PX", "60000"});
  second->client()->run({"SET", "hb:a", "1", "PX", "60000"});
  second->client()->run({"SET", "hb:c", "1", "PX", "60000"});
  PassiveHarness h(redis_config(first->url(), 300ms), fast_options(1500ms));
  h.layer->set_targets({"a", "c"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  EXPECT_EQ(h.count("a", Verdict::alive), 1);

  h.layer->reconfigure(redis_config(second->url(), 300ms));
  EXPECT_FALSE(h.layer->source_healthy());
  ASSERT_TRUE(h.wait_healthy());
  ASSERT_TRUE(h.run_until([&] { return h.count("c", Verdict::alive) > 0; }, 3s));
  EXPECT_EQ(h.count("a", Verdict::alive), 1) << "still alive: no news";
  first->kill();  // the old server is out of the picture
  h.run_for(500ms);
  EXPECT_TRUE(h.layer->source_healthy());
  EXPECT_EQ(h.count(Verdict::dead), 0);
  EXPECT_EQ(h.health, (std::vector<bool>{true, false, true}));
}

}  // namespace
}  // namespace healthsweep::sweeps::passive_test
