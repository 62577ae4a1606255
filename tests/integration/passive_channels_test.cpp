// Passive layer with exact keyspace channels (PassiveOptions::exact_channels,
// what each instance of a cluster uses) against a real redis-server: what is
// subscribed follows set_targets, refreshes of keys added later are seen,
// removed keys are no longer delivered, lapses are still detected at their
// deadline, a reconnect subscribes the whole set again, and a refused
// SUBSCRIBE (ACL) leaves reconciliation working. Redis itself says what is
// subscribed: PUBSUB NUMSUB / NUMPAT.
#include "tests/integration/passive_harness.hpp"

#include <cstdio>

namespace healthsweep::sweeps::passive_test {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

using healthsweep::testing::RedisServer;
using healthsweep::testing::RedisTestClient;

PassiveOptions exact_options(std::size_t per_command = 1000) {
  auto o = fast_options();
  o.exact_channels = true;
  o.channels_per_command = per_command;
  return o;
}

// Subscribers of the exact channel of hb:<id> in db 0.
long long subscribers(RedisTestClient& cli, const std::string& id) {
  const auto text = cli.run({"PUBSUB", "NUMSUB", "__keyspace@0__:hb:" + id});
  const auto nl = text.find('\n');
  return nl == std::string::npos ? -1 : std::stoll(text.substr(nl + 1));
}

TEST(PassiveChannels, ExactChannelsFollowTheWatchedSetAndRefreshesOfAddedKeysAreSeen) {
  HS_REQUIRE_REDIS(redis);
  // Reconciliation only every 30 s: whatever the layer learns sooner came
  // through a notification.
  PassiveHarness h(redis_config(redis->url(), 30s), exact_options());
  auto cli = redis->client();
  for (const auto* k : {"hb:a", "hb:b", "hb:c"}) cli->run({"SET", k, "1", "PX", "60000"});
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  EXPECT_EQ(subscribers(*cli, "a"), 1);
  EXPECT_EQ(subscribers(*cli, "b"), 1);
  EXPECT_EQ(subscribers(*cli, "c"), 0);
  EXPECT_EQ(cli->integer({"PUBSUB", "NUMPAT"}), 0) << "no pattern subscription";

  // c added, a removed: subscriptions follow, without a new session.
  h.layer->set_targets({"b", "c"}, Clock::now());
  ASSERT_TRUE(h.run_until([&] { return subscribers(*cli, "c") == 1 && subscribers(*cli, "a") == 0; }, 5s));
  EXPECT_EQ(subscribers(*cli, "b"), 1);
  ASSERT_TRUE(h.run_until([&] { return h.count("c", Verdict::alive) > 0; }, 3s)) << "c looked up once subscribed";

  // A refresh of c is seen at once (through its channel, not a reconciliation).
  const auto before = h.layer->last_heartbeat("c");
  ASSERT_TRUE(before);
  h.run_for(300ms);  // a refresh moves the deadline by more than 100 ms (HeartbeatDeadlines)
  cli->run({"SET", "hb:c", "1", "PX", "60000"});
  ASSERT_TRUE(h.run_until([&] { return h.layer->last_heartbeat("c") > before; }, 3s))
      << "the refresh of an added key was not noticed";

  // A deadline moved by a refresh is not judged dead at the old one...
  cli->run({"SET", "hb:c", "1", "PX", "700"});
  h.run_for(300ms);
  cli->run({"SET", "hb:c", "1", "PX", "3000"});
  h.run_for(1200ms);
  EXPECT_EQ(h.count("c", Verdict::dead), 0);
  // ...and a lapse is still detected at its deadline.
  cli->run({"SET", "hb:c", "1", "PX", "500"});
  const auto deadline = Clock::now() + 500ms;
  ASSERT_TRUE(h.run_until([&] { return h.count("c", Verdict::dead) > 0; }, 5s));
  const auto* dead = h.first("c", Verdict::dead);
  std::printf("[ passive ] exact channels: lapse verdict %.2f ms after the deadline\n", ms_between(deadline, dead->at));
  EXPECT_LT(ms_between(deadline, dead->at), 1000.0) << "at the deadline, not at a reconciliation 30 s later";

  // The removed key's notifications no longer come, and would be ignored.
  cli->integer({"DEL", "hb:a"});
  h.run_for(300ms);
  EXPECT_EQ(h.count("a", Verdict::dead), 0);
  EXPECT_EQ(h.count("b", Verdict::dead), 0);
}

TEST(PassiveChannels, AReconnectSubscribesTheWholeSetAgainInBatches) {
  HS_REQUIRE_REDIS(redis);
  constexpr int n = 2500;  // five commands of 500
  PassiveHarness h(redis_config(redis->url(), 30s), exact_options(500));
  auto cli = redis->client();
  std::vector<std::string> ids;
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < n; ++i) {
    ids.push_back(std::string("k").append(std::to_string(i)));
    sets.push_back({"SET", "hb:" + ids.back(), "1", "PX", "60000"});
  }
  ASSERT_EQ(cli->pipeline(sets), 0);
  h.layer->set_targets(ids, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  const auto channels = [&] { return cli->integer({"EVAL", "return #redis.call('PUBSUB', 'CHANNELS', '__keyspace@0__:hb:*')", "0"}); };
  EXPECT_EQ(channels(), n);

  // Redis drops the pub/sub connection: the layer reconnects and subscribes
  // every key's channel again before it is healthy.
  EXPECT_GE(cli->integer({"CLIENT", "KILL", "TYPE", "pubsub"}), 1);
  ASSERT_TRUE(h.run_until([&] { return !h.health.empty() && !h.health.back(); }, 5s));
  ASSERT_TRUE(h.wait_healthy());
  EXPECT_EQ(channels(), n);
  EXPECT_EQ(subscribers(*cli, "k0"), 1);
  EXPECT_EQ(subscribers(*cli, ids.back()), 1);

  // And notifications flow again: a refresh is seen before any reconciliation.
  const auto before = h.layer->last_heartbeat("k1234");
  h.run_for(300ms);
  cli->run({"SET", "hb:k1234", "1", "PX", "60000"});
  ASSERT_TRUE(h.run_until([&] { return h.layer->last_heartbeat("k1234") > before; }, 3s));
  EXPECT_EQ(h.count(Verdict::dead), 0);
}

// A user without channel permissions (Redis 7: `resetchannels`): SUBSCRIBE
// and PSUBSCRIBE are refused with -NOPERM. Both modes carry on with
// reconciliation alone, and still detect.
void refused_subscription_degrades(bool exact) {
  HS_REQUIRE_REDIS(redis);
  auto cli = redis->client();
  ASSERT_EQ(cli->run({"ACL", "SETUSER", "hs", "on", ">pw", "~*", "+@all", "resetchannels"}), "OK");
  const auto url = "redis://hs:pw@127.0.0.1:" + std::to_string(redis->port()) + "/0";
  auto opts = exact ? exact_options() : fast_options();
  PassiveHarness h(redis_config(url, 300ms), opts);
  cli->run({"SET", "hb:b", "1", "PX", "60000"});
  h.layer->set_targets({"a", "b"}, Clock::now());
  h.layer->start();
  ASSERT_TRUE(h.wait_healthy());
  EXPECT_EQ(h.health, std::vector<bool>{true}) << "no reconnect loop";
  cli->run({"SET", "hb:a", "1", "PX", "1000"});
  ASSERT_TRUE(h.run_until([&] { return h.count("a", Verdict::dead) > 0; }, 5s));
  EXPECT_EQ(h.count("b", Verdict::dead), 0);
  EXPECT_EQ(h.health, std::vector<bool>{true});
}

TEST(PassiveChannels, ARefusedSubscribeLeavesReconciliationWorking) { refused_subscription_degrades(true); }
TEST(PassiveChannels, ARefusedPatternSubscribeLeavesReconciliationWorking) { refused_subscription_degrades(false); }

}  // namespace
}  // namespace healthsweep::sweeps::passive_test
