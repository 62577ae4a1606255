// Issues 8 and 15: HTTP health URLs checked every interval; what does it
// cost the checker? Runs HttpChecker over the URLs in --urls (served by
// another process, so the server's CPU is not ours), one sweep of all of them
// every --interval-ms, and measures this process's own CPU time (getrusage)
// over the measured sweeps, idle time between them included.
//
// The checker is built as the daemon builds it (daemon/components.cpp:
// HttpChecker(executor), the pool's defaults), and the interval and timeout
// default to config::Proactive's: nothing is raised for the benchmark.
// --new-connection-per-probe keeps those defaults but parks no connection
// (max_idle 0), so every probe connects (and with https, handshakes) anew.
// https URLs are verified against the system CAs as in the daemon; the driver
// points OpenSSL's default paths at its own CA with SSL_CERT_FILE.
//
// Driven by bench/http_checks_vs_blackbox.sh, which starts nginx on loopback,
// runs this, then runs prometheus-blackbox-exporter over the same URLs and
// prints the ratio. Prints a `RESULT key=value ...` line for the driver.
#include "clients/http/checker.hpp"
#include "config/config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;

namespace net = boost::asio;
using healthsweep::clients::http::HttpChecker;
using healthsweep::clients::http::HttpClientOptions;
using healthsweep::clients::net::ProbeOutcome;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

struct Settings {
  std::string urls_file;
  milliseconds interval = healthsweep::config::Proactive{}.interval;
  int warmup = 1;
  int rounds = 3;
  milliseconds timeout = healthsweep::config::Proactive{}.timeout;
  bool new_connection_per_probe = false;
  // A what-if, never the quoted figures: max_idle other than the daemon's.
  std::optional<std::size_t> max_idle;
};

struct Round {
  int alive = 0;
  int dead = 0;
  double wall_ms = 0;
  double cpu_ms = 0;
  std::size_t opened = 0;  // connections opened during the sweep
  std::map<std::string, int> details;  // of the dead ones
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// One sweep: every URL checked, at most max_in_flight at a time (the
// checker's bound), all started at once as the proactive sweep does.
net::awaitable<Round> sweep(HttpChecker& checker, const std::vector<std::string>& urls, milliseconds timeout) {
  auto ex = co_await net::this_coro::executor;
  Round round;
  std::size_t pending = urls.size();
  const std::size_t opened0 = checker.connections_opened();
  net::steady_timer all_done(ex, Clock::time_point::max());
  const auto wall0 = Clock::now();
  const double cpu0 = cpu_seconds();
  for (const auto& url : urls) {
    net::co_spawn(ex, checker.check(url, timeout), [&](std::exception_ptr e, ProbeOutcome o) {
      if (!e && o.alive) {
        ++round.alive;
      } else {
        ++round.dead;
        ++round.details[e ? std::string("exception") : o.detail];
      }
      if (--pending == 0) all_done.cancel();
    });
  }
  boost::system::error_code ec;
  co_await all_done.async_wait(net::redirect_error(net::use_awaitable, ec));
  round.cpu_ms = (cpu_seconds() - cpu0) * 1e3;
  round.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - wall0).count();
  round.opened = checker.connections_opened() - opened0;
  co_return round;
}

net::awaitable<void> run(const Settings& s, HttpChecker& checker, const std::vector<std::string>& urls,
                         int& exit_code) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer pace(ex);
  double measured_cpu0 = 0;
  const auto total = s.warmup + s.rounds;
  Clock::time_point measured_start{};
  int failures = 0;
  double max_sweep_ms = 0;
  std::size_t opened_measured = 0;
  for (int i = 0; i < total; ++i) {
    const bool measured = i >= s.warmup;
    const auto start = Clock::now();
    if (i == s.warmup) {
      measured_cpu0 = cpu_seconds();
      measured_start = start;
    }
    const Round r = co_await sweep(checker, urls, s.timeout);
    std::printf("round %d%s: %d alive, %d dead, sweep %.1f ms wall, %.1f ms CPU (%.1f us/probe), "
                "%zu connections opened in the sweep\n",
                i + 1, measured ? "" : " (warm-up)", r.alive, r.dead, r.wall_ms, r.cpu_ms,
                r.cpu_ms * 1e3 / static_cast<double>(urls.size()), r.opened);
    for (const auto& [detail, count] : r.details) std::printf("  dead: %d x %s\n", count, detail.c_str());
    if (measured) {
      failures += r.dead;
      max_sweep_ms = std::max(max_sweep_ms, r.wall_ms);
      opened_measured += r.opened;
    }
    // Every URL checked in every sweep, and each sweep over before the next.
    if (r.dead > 0 || r.wall_ms > static_cast<double>(s.interval.count())) exit_code = 1;
    pace.expires_at(start + s.interval);
    boost::system::error_code ec;
    co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  const double cpu_s = cpu_seconds() - measured_cpu0;
  const double window_s = std::chrono::duration<double>(Clock::now() - measured_start).count();
  const double probes = static_cast<double>(urls.size()) * s.rounds;
  const double us_per_probe = cpu_s * 1e6 / probes;
  // The budget: one sweep of these URLs every 15 s under 1 % of a core.
  const double core_pct_at_15s = cpu_s / s.rounds / 15.0 * 100.0;
  std::printf("measured: %d sweeps of %zu URLs in %.1f s: %.3f s CPU, %.2f us CPU per probe; "
              "one sweep every 15 s would use %.3f %% of one core\n",
              s.rounds, urls.size(), window_s, cpu_s, us_per_probe, core_pct_at_15s);
  const auto stats = checker.stats();
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  std::printf("RESULT healthsweep_us_per_probe=%.3f healthsweep_cpu_s=%.4f probes=%.0f core_pct_at_15s=%.4f "
              "failures=%d max_sweep_ms=%.1f connections_opened_measured=%zu stale_replaced=%llu idle_now=%zu "
              "max_rss_kib=%ld\n",
              us_per_probe, cpu_s, probes, core_pct_at_15s, failures, max_sweep_ms, opened_measured,
              static_cast<unsigned long long>(stats.stale_replaced), stats.idle, self.ru_maxrss);
  checker.close_idle();
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_http_checks --urls FILE [--interval-ms N] [--warmup 1] [--rounds 3]\n"
               "       [--timeout-ms N] [--new-connection-per-probe] [--what-if-max-idle N]\n"
               "Interval and timeout default to the daemon's (proactive.interval, proactive.timeout);\n"
               "the checker's pool always has the daemon's defaults.\n"
               "FILE: one http(s) URL per line, served by another process.\n"
               "bench/http_checks_vs_blackbox.sh runs it against nginx and compares with blackbox_exporter.\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--new-connection-per-probe") {
      s.new_connection_per_probe = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const std::string value = argv[++i];
    if (arg == "--urls") s.urls_file = value;
    else if (arg == "--interval-ms") s.interval = milliseconds(std::stol(value));
    else if (arg == "--warmup") s.warmup = std::stoi(value);
    else if (arg == "--rounds") s.rounds = std::stoi(value);
    else if (arg == "--timeout-ms") s.timeout = milliseconds(std::stol(value));
    else if (arg == "--what-if-max-idle") s.max_idle = std::stoul(value);
    else return usage();
  }
  if (s.urls_file.empty() || s.rounds < 1 || s.warmup < 0) return usage();

  std::vector<std::string> urls;
  std::ifstream in(s.urls_file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) urls.push_back(line);
  if (urls.empty()) {
    std::fprintf(stderr, "no URLs in %s\n", s.urls_file.c_str());
    return 2;
  }

  // Idle connections plus the in-flight ones: more than the usual soft limit
  // of 1,024 descriptors (the daemon's unit file raises it too).
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  net::io_context ctx(1);
  HttpClientOptions options;  // the pool's defaults, as HttpChecker(executor) in the daemon
  if (s.new_connection_per_probe) options.max_idle = 0;
  if (s.max_idle) options.max_idle = *s.max_idle;
  const bool daemon_pool = !s.new_connection_per_probe && !s.max_idle;
  HttpChecker checker = daemon_pool ? HttpChecker(ctx.get_executor()) : HttpChecker(ctx.get_executor(), options);
  std::printf("bench_http_checks: %zu URLs, one sweep every %lld ms, timeout %lld ms, %d warm-up + %d measured "
              "sweeps; pool: max %zu in flight, max %zu idle%s, idle timeout %lld ms\n",
              urls.size(), static_cast<long long>(s.interval.count()), static_cast<long long>(s.timeout.count()),
              s.warmup, s.rounds, options.max_in_flight, options.max_idle,
              s.new_connection_per_probe ? " (new connection per probe)"
              : s.max_idle             ? " (WHAT-IF, not the daemon's default)"
                                       : " (daemon default)",
              static_cast<long long>(options.idle_timeout.count()));
  int exit_code = 0;
  net::co_spawn(ctx, run(s, checker, urls, exit_code), [&](std::exception_ptr e) {
    if (e) {
      try { std::rethrow_exception(e); }
      catch (const std::exception& ex) { std::fprintf(stderr, "bench failed: %s\n", ex.what()); }
      exit_code = 1;
    }
    ctx.stop();
  });
  ctx.run();
  return exit_code;
}
