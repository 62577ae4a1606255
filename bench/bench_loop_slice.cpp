// The event loop's short time slices (daemon/loop_slice.hpp, issue 15): how
// late a 1 ms ticker on an Asio loop wakes while every core is kept busy by
// threads that never sleep, all at the normal policy and nice 0. The loop
// also works 300 us after each wake (about a third of a core, as the
// daemon's loop at fleet size: 38-50 %). Lateness is measured from when the
// ticker asked, so a wait for a core is seen whole.
// Baseline: the same loop with the kernel's default slice, in the same run;
// the two alternate, a fresh loop thread each round.
// Usage: bench_loop_slice [seconds per round=3] [rounds=3] [busy threads=2 per core]
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bench/bench_stats.hpp"
#include "daemon/loop_slice.hpp"

namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using healthsweep::bench::median;

namespace {

struct Result {
  double p50, p99, max;
  std::size_t wakes;
  std::chrono::nanoseconds slice;
};

void spin_for(std::chrono::microseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

Result run_loop(std::chrono::seconds duration, bool short_slice) {
  Result r{};
  std::thread([&] {
    healthsweep::daemon::SliceChange change;
    // A fresh thread has the default slice (it was started by main, which
    // never asked); the short one only when asked.
    if (short_slice && healthsweep::daemon::request_slice(healthsweep::daemon::loop_slice, change)) std::abort();
    net::io_context io;
    std::vector<double> lateness;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
      net::steady_timer t(io);
      const auto end = Clock::now() + duration;
      while (Clock::now() < end) {
        const auto due = Clock::now() + 1ms;
        t.expires_at(due);
        co_await t.async_wait(net::use_awaitable);
        lateness.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
        spin_for(300us);
      }
    }, net::detached);
    io.run();
    std::sort(lateness.begin(), lateness.end());
    r = Result{lateness[lateness.size() / 2], lateness[lateness.size() * 99 / 100], lateness.back(),
               lateness.size(), short_slice ? change.after : change.before};
  }).join();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const auto seconds = std::chrono::seconds(argc > 1 ? std::atoi(argv[1]) : 3);
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned busy = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 2 * cores;

  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (unsigned i = 0; i < busy; ++i)
    hogs.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) spin_for(1000us);
    });

  std::printf("bench_loop_slice: 1 ms ticker + 300 us of work per wake, %u busy threads on %u cores, %lld s a round\n",
              busy, cores, static_cast<long long>(seconds.count()));
  std::vector<double> base_p99, short_p99, base_p50, short_p50;
  for (int round = 0; round < rounds; ++round) {
    for (const bool short_slice : {false, true}) {
      const auto r = run_loop(seconds, short_slice);
      std::printf("round %d %-22s lateness p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (%zu wakes)\n", round + 1,
                  short_slice ? "short slice (loop's)" : "default slice (before)", r.p50, r.p99, r.max, r.wakes);
      (short_slice ? short_p99 : base_p99).push_back(r.p99);
      (short_slice ? short_p50 : base_p50).push_back(r.p50);
    }
  }
  stop = true;
  for (auto& h : hogs) h.join();
  std::printf("medians over %d rounds: default p50 %.3f p99 %.3f ms; short p50 %.3f p99 %.3f ms\n", rounds,
              median(base_p50), median(base_p99), median(short_p50), median(short_p99));
  std::printf("ratio short/default: p50 %.4f  p99 %.4f\n", median(short_p50) / median(base_p50),
              median(short_p99) / median(base_p99));
  return 0;
}
