// A real Redis Sentinel deployment for a test, all on 127.0.0.1 with free
// ports: a master, one replica (`replicaof` the master) and three sentinels
// (`redis-server CONF --sentinel`, quorum 2, down-after-milliseconds 1000)
// monitoring it as "m1". Every process is killed and its directory removed
// when the object dies (also when the test fails).
#pragma once

#include "tests/support/redis_server.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace healthsweep::testing {

class RedisSentinelSet {
 public:
  static constexpr const char* master_name = "m1";
  // Starts everything and waits until every sentinel knows the replica and
  // its two peers (what a failover needs); nullptr (and *why) when it cannot.
  static std::unique_ptr<RedisSentinelSet> start(std::string* why);

  // The two data servers; which one is the master changes with a failover.
  RedisServer& server(int i) { return *servers_.at(i); }
  RedisServer& sentinel(int i) { return *sentinels_.at(i); }
  // "[\"127.0.0.1:P1\", ...]" for redis.sentinels (or with another host
  // name for the same address, e.g. "localhost").
  std::string sentinels_yaml(const std::string& host = "127.0.0.1") const;
  // The master's port as sentinel `i` names it; 0 when it names none.
  int master_port(int i = 0) const;
  // The data server whose port sentinel `i` names.
  RedisServer* master(int i = 0);
  // SENTINEL FAILOVER m1 through the first running sentinel, then waits
  // until every running sentinel names the other server and that server says
  // ROLE master. Empty on success, otherwise what went wrong.
  std::string failover(std::chrono::milliseconds timeout);
  std::string logs() const;  // every process' log, for a failure message

 private:
  RedisSentinelSet() = default;
  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

}  // namespace healthsweep::testing

// Starts a RedisSentinelSet into `var`; when it cannot start the test is
// skipped loudly, or fails under CI=true.
#define HS_REQUIRE_REDIS_SENTINEL(var)                                                              \
  std::unique_ptr<::healthsweep::testing::RedisSentinelSet> var;                                    \
  do {                                                                                              \
    std::string why_;                                                                               \
    var = ::healthsweep::testing::RedisSentinelSet::start(&why_);                                   \
    if (!var) {                                                                                     \
      if (::healthsweep::testing::in_ci()) GTEST_FAIL() << "Redis Sentinel did not start (CI=true): " << why_; \
      GTEST_SKIP() << "SKIPPED LOUDLY: Redis Sentinel did not start: " << why_;                     \
    }                                                                                               \
  } while (0)
