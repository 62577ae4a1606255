// Issue 14, the passive layer per instance, through whole daemons: three
// clustered daemons share 300 static targets with heartbeat keys in one real
// redis-server. Each key's exact keyspace channel has exactly one subscriber
// (the instance that owns the target) and nobody subscribes to the pattern,
// so every refresh's notifications reach one instance, not three. After a
// kill -9 the survivors subscribe the dead instance's keys, each exactly
// once again. Real PostgreSQL (HS_TEST_PG_DSN) and Redis.
#include <gtest/gtest.h>

#include <csignal>
#include <sstream>
#include <thread>

#include "tests/integration/faults_support.hpp"
#include "tests/support/redis_server.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int target_count = 300;

std::string channel(int n) { return "__keyspace@0__:healthsweep:heartbeat:t-" + std::to_string(n); }

// Subscribers of each target's channel, from one PUBSUB NUMSUB; on a
// mismatch `why` names the first target not subscribed exactly once.
bool each_subscribed_once(RedisTestClient& cli, std::string* why) {
  std::vector<std::string> cmd{"PUBSUB", "NUMSUB"};
  for (int n = 0; n < target_count; ++n) cmd.push_back(channel(n));
  std::istringstream lines(cli.run(cmd));  // channel, count, channel, count...
  std::string name, count;
  int n = 0;
  while (std::getline(lines, name) && std::getline(lines, count)) {
    if (count != "1") {
      *why = name + " has " + count + " subscribers";
      return false;
    }
    ++n;
  }
  if (n != target_count) *why = "NUMSUB answered " + std::to_string(n) + " channels";
  return n == target_count;
}

}  // namespace

TEST(ClusterPassive, EachHeartbeatChannelHasExactlyOneSubscriberAndTheSurvivorsTakeOverAKilledInstancesKeys) {
  const char* dsn = std::getenv("HS_TEST_PG_DSN");
  if (!dsn || !*dsn) {
    if (in_ci()) GTEST_FAIL() << "HS_TEST_PG_DSN is not set (CI=true)";
    GTEST_SKIP() << "SKIPPED LOUDLY: HS_TEST_PG_DSN is not set; run through scripts/test";
  }
  HS_REQUIRE_REDIS(redis);
  auto cli = redis->client();
  std::vector<std::vector<std::string>> beats;
  for (int n = 0; n < target_count; ++n)
    beats.push_back({"SET", "healthsweep:heartbeat:t-" + std::to_string(n), "1", "PX", "600000"});
  ASSERT_EQ(cli->pipeline(beats), 0);

  TestDatabase db(dsn, "passive_owners");
  std::vector<std::unique_ptr<TempDir>> spools;
  std::string targets = "targets:\n  static:\n";
  for (int n = 0; n < target_count; ++n) targets += "    - { id: t-" + std::to_string(n) + " }\n";
  const auto start = [&](const std::string& id) {
    spools.push_back(std::make_unique<TempDir>());
    return std::make_unique<Daemon>(store_section(db.dsn(), spools.back()->path()) + targets + "redis:\n  url: \"" +
                                    redis->url() + "\"\n  reconcile_interval: 2s\ncluster:\n  instance_id: " + id +
                                    "\n  lease: 3s\n  renew_every: 1s\nliveness: { stale_after: 5s }\n");
  };
  auto a = start("pas-a");
  auto b = start("pas-b");
  auto c = start("pas-c");
  std::string why;
  ASSERT_TRUE(eventually([&] { return each_subscribed_once(*cli, &why); }, 40s))
      << why << "\n" << a->log() << b->log() << c->log();
  EXPECT_EQ(cli->integer({"PUBSUB", "NUMPAT"}), 0) << "no instance subscribes to the heartbeat pattern";
  std::this_thread::sleep_for(2s);  // and it holds while ownership is stable
  EXPECT_TRUE(each_subscribed_once(*cli, &why)) << why;

  c->process().signal(SIGKILL);
  c->process().wait_exit(5s);
  // Lease 3 s + a renewal, then the takeover's SUBSCRIBE.
  ASSERT_TRUE(eventually([&] { return each_subscribed_once(*cli, &why); }, 15s)) << why << "\n" << a->log();
  EXPECT_EQ(cli->integer({"PUBSUB", "NUMPAT"}), 0);
  EXPECT_EQ(b->log().find(" dead ("), std::string::npos) << "no heartbeat judged dead: " << b->log();
}
