// What timing every handler costs (metrics/handler_timing.hpp, compiled into
// every target): the clock reads and bookkeeping of one handler, against the
// baseline of what the loop pays to run one handler at all, measured in the
// same run: an empty posted handler, and a coroutine's resumption after
// `co_await post` (the sweep's yield_turn). Both baselines include the timing
// (it cannot be compiled out of one binary without two copies of Asio), so
// "without" is the baseline minus the timing's own cost.
// CPU time of this thread, median of 7 rounds.
// Usage: bench_handler_timing [handlers_per_round=1000000]
#include <time.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "metrics/handler_timing.hpp"
#include "bench/thread_cpu.hpp"

namespace {

namespace net = boost::asio;
namespace timing = healthsweep::metrics::handler_timing;

template <class F>
double median_ns_per(long n, F&& round) {
  return healthsweep::bench::median_thread_cpu_seconds(7, round) * 1e9 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;

  // The timing alone: one Scope begin/end, as Asio's completion runs it.
  const double scope_ns = median_ns_per(n, [n] {
    for (long i = 0; i < n; ++i) {
      timing::Scope s;
      s.begin();
      asm volatile("" ::: "memory");
      s.end();
    }
  });

  // Baseline 1: an empty handler posted and run (the timing included).
  const double post_ns = median_ns_per(n, [n] {
    net::io_context ioc;
    for (long i = 0; i < n; ++i) net::post(ioc, [] {});
    ioc.run();
  });

  // Baseline 2: a coroutine resumed after `co_await post`, the sweep's yield.
  const double resume_ns = median_ns_per(n, [n] {
    net::io_context ioc;
    net::co_spawn(ioc, [&]() -> net::awaitable<void> {
      for (long i = 0; i < n; ++i) co_await net::post(ioc, net::use_awaitable);
    }, net::detached);
    ioc.run();
  });

  std::printf("handlers per round: %ld, median of 7 rounds, CPU time of this thread\n", n);
  std::printf("timing alone (Scope begin + end):           %7.1f ns\n", scope_ns);
  std::printf("baseline: empty posted handler, run          %7.1f ns (with the timing); ratio timing/baseline %.3f\n",
              post_ns, scope_ns / post_ns);
  std::printf("baseline: coroutine resumed after co_await post %7.1f ns (with the timing); ratio timing/baseline %.3f\n",
              resume_ns, scope_ns / resume_ns);
  std::printf("handlers counted on this thread: %llu; longest %.3f ms\n",
              static_cast<unsigned long long>(timing::handlers()),
              std::chrono::duration<double, std::milli>(timing::longest()).count());
  return 0;
}
