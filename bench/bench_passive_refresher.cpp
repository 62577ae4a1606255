// The heartbeat traffic of issue 15's "Redis cost" goal, for
// bench_passive_redis_cost.sh: loads N unrelated TTL keys and H heartbeat
// keys into a redis-server, then refreshes every heartbeat key once per
// PERIOD seconds (SET key 1 EX TTL), paced in slices every 20 ms, for
// SECONDS seconds. Blocking hiredis with pipelining: this process's own
// Redis cost is the baseline the daemon's is measured against.
//
//   bench_passive_refresher load PORT OTHERS HEARTBEATS
//   bench_passive_refresher refresh PORT HEARTBEATS PERIOD_S TTL_S SECONDS
#include "tests/support/redis_server.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string heartbeat_key(long i) { return "healthsweep:heartbeat:t-" + std::to_string(i); }

int load(healthsweep::testing::RedisTestClient& cli, long others, long heartbeats) {
  std::vector<std::vector<std::string>> chunk;
  const auto flush = [&] {
    const int errors = cli.pipeline(chunk);
    chunk.clear();
    return errors;
  };
  for (long i = 0; i < others + heartbeats; ++i) {
    if (i < others) chunk.push_back({"SET", "other:" + std::to_string(i), "v", "EX", "86400"});
    else chunk.push_back({"SET", heartbeat_key(i - others), "1", "EX", "60"});
    if (chunk.size() == 10000 && flush() != 0) return 1;
  }
  return flush() != 0 ? 1 : 0;
}

int refresh(healthsweep::testing::RedisTestClient& cli, long heartbeats, long period_s, const std::string& ttl,
            long seconds) {
  constexpr auto slice = 20ms;
  const auto slices_per_period = std::chrono::seconds(period_s) / slice;
  const auto per_slice = (heartbeats + slices_per_period - 1) / slices_per_period;
  const auto t0 = Clock::now();
  auto next = t0;
  long next_key = 0, sent = 0, late_slices = 0;
  std::vector<std::vector<std::string>> batch;
  while (Clock::now() - t0 < std::chrono::seconds(seconds)) {
    batch.clear();
    for (long k = 0; k < per_slice; ++k) {
      batch.push_back({"SET", heartbeat_key(next_key), "1", "EX", ttl});
      next_key = (next_key + 1) % heartbeats;
    }
    if (cli.pipeline(batch) != 0) return 1;
    sent += per_slice;
    next += slice;
    if (Clock::now() > next) ++late_slices;
    std::this_thread::sleep_until(next);
    if (sent % (per_slice * 1500) == 0) {  // every 30 s: the rate held so far
      const double so_far = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("refresher: %ld refreshes in %.1f s (%.0f/s), %ld slices late\n", sent, so_far, sent / so_far,
                  late_slices);
      std::fflush(stdout);
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("refresher: %ld refreshes in %.1f s (%.0f/s), %ld of %ld slices late\n", sent, took, sent / took,
              late_slices, static_cast<long>(took / 0.02));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "load" && argc == 5) || (mode == "refresh" && argc == 7))) {
    std::fprintf(stderr, "usage: %s load PORT OTHERS HEARTBEATS | refresh PORT HEARTBEATS PERIOD_S TTL_S SECONDS\n",
                 argv[0]);
    return 2;
  }
  healthsweep::testing::RedisTestClient cli("127.0.0.1", std::atoi(argv[2]));
  if (!cli.ok()) {
    std::fprintf(stderr, "cannot connect to redis on port %s\n", argv[2]);
    return 1;
  }
  if (mode == "load") return load(cli, std::atol(argv[3]), std::atol(argv[4]));
  return refresh(cli, std::atol(argv[3]), std::atol(argv[4]), argv[5], std::atol(argv[6]));
}
