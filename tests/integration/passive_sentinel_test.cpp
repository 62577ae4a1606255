// Redis through Sentinel, end to end: a real master, replica and three
// sentinels (tests/support/redis_sentinel), a real healthsweepd with 20
// heart-beating targets, and a refresher that, like a real fleet, writes to
// whichever server the sentinels name. SENTINEL FAILOVER while heartbeats
// flow: the daemon follows the new master, nobody goes offline for it, and a
// heartbeat that stops afterwards is still caught.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/integration/target_json.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/redis_sentinel.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kTargets = 20;

std::string target_id(int i) { return "hb-" + std::to_string(i); }

std::string sentinel_config(const RedisSentinelSet& set) {
  // The URL's host and port are not used (port 1 refuses): only its db.
  std::string c = "redis:\n  url: \"redis://127.0.0.1:1/0\"\n  sentinels: " + set.sentinels_yaml() +
                  "\n  master_name: " + RedisSentinelSet::master_name +
                  "\n  reconcile_interval: 1s\n"
                  "targets:\n  static:\n";
  for (int i = 0; i < kTargets; ++i) c += "    - { id: " + target_id(i) + " }\n";
  c += "liveness: { stale_after: 3s }\n";
  return c;
}

// Refreshes every beating target's key (TTL 6 s) every 300 ms on the server
// sentinel 1 names as master at that moment, as a fleet using Sentinel would.
class Refresher {
 public:
  explicit Refresher(RedisSentinelSet& set) : set_(set) {
    for (auto& b : beating_) b = true;
    thread_ = std::thread([this] { loop(); });
  }
  ~Refresher() {
    stop_ = true;
    thread_.join();
  }
  void stop_beating(int i) { beating_[i] = false; }
  // Rounds written to each master port so far.
  std::map<int, int> rounds() {
    std::lock_guard lock(mu_);
    return rounds_;
  }

 private:
  void loop() {
    std::map<int, std::unique_ptr<RedisTestClient>> clients;
    while (!stop_) {
      const int port = set_.master_port(1);
      if (port != 0) {
        auto& c = clients[port];
        if (!c) c = std::make_unique<RedisTestClient>("127.0.0.1", port);
        std::vector<std::vector<std::string>> sets;
        for (int i = 0; i < kTargets; ++i)
          if (beating_[i]) sets.push_back({"SET", "healthsweep:heartbeat:" + target_id(i), "1", "PX", "6000"});
        if (c->pipeline(sets) == 0) {
          std::lock_guard lock(mu_);
          ++rounds_[port];
        }
      }
      std::this_thread::sleep_for(300ms);  // the fleet's heartbeat period, not a synchronisation
    }
  }
  RedisSentinelSet& set_;
  std::array<std::atomic<bool>, kTargets> beating_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<int, int> rounds_;
  std::thread thread_;
};

// The daemon's passive and sentinel log lines, for the test's output.
std::string passive_lines(const Daemon& d) {
  std::istringstream in(d.log());
  std::string out;
  for (std::string line; std::getline(in, line);)
    if ((line.find("passive:") != std::string::npos && line.find(" target ") == std::string::npos) ||
        line.find("redis sentinel:") != std::string::npos)
      out += "  " + line + "\n";
  return out;
}

int online(const Daemon& d) { return static_cast<int>(metric(d, "healthsweep_targets{state=\"online\"}")); }

}  // namespace

TEST(PassiveSentinel, FailoverWhileHeartbeatsFlowIsFollowedWithoutFalseOffline) {
  HS_REQUIRE_REDIS_SENTINEL(set);
  const int first_master = set->master_port();
  Refresher refresher(*set);
  ASSERT_TRUE(eventually([&] { return refresher.rounds()[first_master] > 0; }, 10s));
  Daemon d(sentinel_config(*set));
  ASSERT_TRUE(eventually([&] { return online(d) == kTargets; }, 20s)) << d.log();
  EXPECT_NE(d.log().find("names 127.0.0.1:" + std::to_string(first_master) + " as the master of 'm1'"),
            std::string::npos)
      << d.log();
  ASSERT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 10s)) << d.log();

  const auto failover_at = std::chrono::steady_clock::now();
  const auto why = set->failover(30s);
  ASSERT_EQ(why, "") << d.log();
  const int second_master = set->master_port();
  ASSERT_NE(second_master, first_master);
  // The daemon follows: the sentinels' new answer, a session on the new
  // master, and a healthy `redis` again.
  const std::string followed = "the master of 'm1' moved from 127.0.0.1:" + std::to_string(first_master) +
                               " to 127.0.0.1:" + std::to_string(second_master);
  ASSERT_TRUE(eventually([&] { return d.log().find(followed) != std::string::npos; }, 20s)) << d.log();
  ASSERT_TRUE(eventually(
      [&] {
        const auto log = d.log();
        const auto at = log.find(followed);
        return log.find("redis 127.0.0.1:" + std::to_string(second_master) + "/0 connected and reconciled", at) !=
               std::string::npos;
      },
      20s))
      << d.log();
  std::printf("[ measured ] SENTINEL FAILOVER to the daemon reconciled on the new master: %.0f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - failover_at).count());
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 10s)) << d.log();
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 0; }, 10s)) << d.log();
  ASSERT_TRUE(eventually([&] { return refresher.rounds()[second_master] > 0; }, 10s));

  // Longer than a heartbeat TTL (6 s) on the new master: a key lost in the
  // switch would have lapsed by now.
  EXPECT_TRUE(holds_for(7s, [&] { return online(d) == kTargets; })) << "no target goes offline for a failover\n"
                                                                    << d.log();
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"passive\"}"), 0) << d.log();

  // After the failover a stopped heartbeat is still a lapse, seen on the new master.
  refresher.stop_beating(0);
  ASSERT_TRUE(eventually([&] { return state_of(d, target_id(0)) == "offline"; }, 20s)) << d.log();
  EXPECT_NE(target(d, target_id(0))->reason.find("heartbeat expired"), std::string::npos)
      << target(d, target_id(0))->reason;
  EXPECT_EQ(online(d), kTargets - 1);
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"passive\"}"), 1);
  std::printf("[ sentinel ] the daemon's passive log:\n%s", passive_lines(d).c_str());
}

TEST(PassiveSentinel, NoReachableMasterIsAnOutageNotADeath) {
  HS_REQUIRE_REDIS_SENTINEL(set);
  RedisServer* master = set->master();
  ASSERT_NE(master, nullptr);
  for (int i = 0; i < 2; ++i)
    master->client()->run({"SET", "healthsweep:heartbeat:" + target_id(i), "1", "PX", "600000"});
  // Named by host name: resolved off the loop, like every other name.
  std::string c = "redis:\n  url: \"redis://127.0.0.1:1/0\"\n  sentinels: " + set->sentinels_yaml("localhost") +
                  "\n  master_name: m1\n  reconcile_interval: 1s\n"
                  "targets:\n  static:\n    - { id: hb-0 }\n    - { id: hb-1 }\nliveness: { stale_after: 3s }\n";
  Daemon d(c);
  ASSERT_TRUE(eventually([&] { return online(d) == 2; }, 20s)) << d.log();
  EXPECT_NE(d.log().find("passive: sentinel localhost:" + std::to_string(set->sentinel(0).port()) + " names"),
            std::string::npos)
      << d.log();

  // Both data servers gone: the sentinels name a master nobody can reach.
  set->server(0).kill();
  set->server(1).kill();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 1; }, 10s)) << d.log();
  ASSERT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 503; }, 15s)) << d.log();
  EXPECT_NE(d.get("/admin/liveness").body.find("\"redis\":{\"status\":\"stale\""), std::string::npos);
  EXPECT_TRUE(holds_for(2s, [&] { return online(d) == 2; })) << "no master is no evidence of death\n" << d.log();

  // The master the sentinels still name comes back (empty); the targets refresh in time.
  RedisServer* named = set->master();
  ASSERT_NE(named, nullptr) << set->logs();
  ASSERT_TRUE(named->restart());
  for (int i = 0; i < 2; ++i)
    named->client()->run({"SET", "healthsweep:heartbeat:" + target_id(i), "1", "PX", "600000"});
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 20s)) << d.log();
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 0; }, 10s)) << d.log();
  EXPECT_EQ(online(d), 2);
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"passive\"}"), 0) << d.log();
}

TEST(PassiveSentinel, LosingTheWatchedSentinelMovesTheWatchToTheNextAndAFailoverIsStillFollowed) {
  HS_REQUIRE_REDIS_SENTINEL(set);
  const int first_master = set->master_port();
  Refresher refresher(*set);  // asks sentinel 1, which stays up
  ASSERT_TRUE(eventually([&] { return refresher.rounds()[first_master] > 0; }, 10s));
  Daemon d(sentinel_config(*set));
  ASSERT_TRUE(eventually([&] { return online(d) == kTargets; }, 20s)) << d.log();
  const auto s0 = "127.0.0.1:" + std::to_string(set->sentinel(0).port());
  const auto s1 = "127.0.0.1:" + std::to_string(set->sentinel(1).port());
  ASSERT_TRUE(eventually([&] { return d.log().find("following failovers of 'm1' through sentinel " + s0) !=
                                      std::string::npos; }, 10s))
      << d.log();

  // The sentinel the watch listens on dies; two of three still make the quorum.
  set->sentinel(0).kill();
  ASSERT_TRUE(eventually([&] { return d.log().find("following failovers of 'm1' through sentinel " + s1) !=
                                      std::string::npos; }, 20s))
      << d.log();
  EXPECT_NE(d.log().find("lost the +switch-master subscription on " + s0), std::string::npos) << d.log();

  ASSERT_EQ(set->failover(30s), "") << d.log();
  const int second_master = set->master_port(1);
  const std::string followed = "the master of 'm1' moved from 127.0.0.1:" + std::to_string(first_master) +
                               " to 127.0.0.1:" + std::to_string(second_master) + " (+switch-master from sentinel " +
                               s1;
  ASSERT_TRUE(eventually([&] { return d.log().find(followed) != std::string::npos; }, 20s)) << d.log();
  ASSERT_TRUE(eventually([&] { return refresher.rounds()[second_master] > 0; }, 10s));
  EXPECT_TRUE(holds_for(7s, [&] { return online(d) == kTargets; })) << d.log();
  EXPECT_EQ(metric(d, "healthsweep_detections_total{layer=\"passive\"}"), 0) << d.log();
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 10s)) << d.log();
}
