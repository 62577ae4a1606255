// Logging off the loop (issue 15): how late a 1 ms ticker on the event loop
// wakes while the same loop logs a line every 100 us to a stderr that is a
// pipe read slowly (64 KiB every 100 ms, 640 KiB/s, about 5,900 of these
// lines a second against 10,000 logged). Lateness is measured from when the
// ticker asked, so a stall is seen whole (as bench_engine_list does).
// The daemon's logging (daemon/logging.cpp: async logger, bounded queue,
// drops counted) against the baseline, the synchronous stderr sink it
// replaced (same formatter, flush on every line), in the same run.
// Usage: bench_log_lateness [seconds per mode=5]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.hpp"

namespace net = boost::asio;
using namespace std::chrono_literals;
using healthsweep::config::LogFormat;
using healthsweep::config::LogLevel;

namespace {

struct Result {
  double p50, p99, max;
  std::size_t ticks;
  long lines;
  double seconds;
};

// A reader that takes 64 KiB every 100 ms until told to stop, then drains to
// EOF (so a logger still writing at the end is let go).
class SlowReader {
 public:
  explicit SlowReader(int fd) : fd_(fd), thread_([this] { run(); }) {}
  void finish() {
    stop_ = true;
    thread_.join();
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void run() {
    std::vector<char> buf(65536);
    while (!stop_) {
      const auto t = std::chrono::steady_clock::now() + 100ms;
      std::size_t got = 0;
      while (got < buf.size()) {  // one 64 KiB helping, however it arrives
        const auto n = read(fd_, buf.data(), buf.size() - got);
        if (n <= 0) return;
        got += static_cast<std::size_t>(n);
        bytes_ += static_cast<std::size_t>(n);
        if (stop_) break;
      }
      std::this_thread::sleep_until(t);
    }
    for (ssize_t n; (n = read(fd_, buf.data(), buf.size())) > 0;) bytes_ += static_cast<std::size_t>(n);
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::size_t bytes_ = 0;
  std::thread thread_;
};

Result run_loop(std::chrono::seconds duration) {
  net::io_context io;
  bool done = false;
  std::vector<double> lateness;
  long lines = 0;
  const auto start = std::chrono::steady_clock::now();
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    net::steady_timer t(io);
    while (!done) {
      const auto due = std::chrono::steady_clock::now() + 1ms;
      t.expires_at(due);
      co_await t.async_wait(net::use_awaitable);
      lateness.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - due).count());
    }
  }, net::detached);
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    net::steady_timer t(io);
    auto next = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < duration) {
      spdlog::info("proactive: target ws-{} offline (engine event die, exit 137); restarting, backoff {} ms",
                   lines % 1000, 250 * (lines % 8));
      ++lines;
      next += 100us;
      t.expires_at(next);
      co_await t.async_wait(net::use_awaitable);
    }
    done = true;
  }, net::detached);
  io.run();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(lateness.begin(), lateness.end());
  return Result{lateness[lateness.size() / 2], lateness[lateness.size() * 99 / 100], lateness.back(),
                lateness.size(), lines, seconds};
}

void print(const char* name, const Result& r, unsigned long long dropped, std::size_t bytes_read) {
  std::printf("%-28s lateness p50 %7.3f ms  p99 %8.3f ms  max %8.3f ms  (%zu wakes; %ld lines logged in %.2f s, "
              "%llu dropped, %zu bytes read)\n",
              name, r.p50, r.p99, r.max, r.ticks, r.lines, r.seconds, dropped, bytes_read);
}

}  // namespace

int main(int argc, char** argv) {
  const auto duration = std::chrono::seconds(argc > 1 ? std::atoi(argv[1]) : 5);
  const int saved_stderr = dup(STDERR_FILENO);
  auto with_slow_stderr = [&](auto body) {
    int p[2];
    if (pipe(p) != 0) std::abort();
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    SlowReader reader(p[0]);
    body();
    dup2(saved_stderr, STDERR_FILENO);  // the reader sees EOF once the logger lets go
    reader.finish();
    close(p[0]);
    return reader.bytes();
  };

  // Baseline: the synchronous sink the daemon had before issue 15.
  Result sync{};
  const auto sync_bytes = with_slow_stderr([&] {
    auto logger = std::make_shared<spdlog::logger>("sync", std::make_shared<spdlog::sinks::stderr_sink_st>());
    logger->set_formatter(healthsweep::daemon::log_formatter(LogFormat::json));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    sync = run_loop(duration);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("none"));
  });

  Result async{};
  unsigned long long dropped = 0;
  const auto async_bytes = with_slow_stderr([&] {
    healthsweep::daemon::setup_logging(LogLevel::info, LogFormat::json);
    async = run_loop(duration);
    healthsweep::daemon::shutdown_logging(60s);  // the slow reader takes the queue's rest
    dropped = healthsweep::daemon::log_lines_dropped();
  });

  std::printf("bench_log_lateness: a line every 100 us on the loop, stderr a pipe read 64 KiB / 100 ms, %lld s each\n",
              static_cast<long long>(duration.count()));
  print("sync stderr sink (before)", sync, 0, sync_bytes);
  print("async, queue 8192 (issue 15)", async, dropped, async_bytes);
  std::printf("ratio async/sync: p99 %.4f  max %.4f\n", async.p99 / sync.p99, async.max / sync.max);
  return 0;
}
