#include "daemon/logging.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace healthsweep::daemon {

namespace {

// %j: the message as the body of a JSON string (quotes, backslashes and
// control characters escaped), so a log line is always one valid object.
// It runs on the log worker now: it keeps no state (each call reads only the
// message, which the queue owns a copy of, and appends to `dest`, the
// worker's own buffer), and StderrSink's lock keeps a reload's new formatter
// from replacing it mid-line.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char hex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char esc[] = {'\\', 'u', '0', '0', hex[(c >> 4) & 0xf], hex[c & 0xf]};
            dest.append(esc, esc + sizeof esc);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// The worker's stderr: the line is formatted under the lock and written
// after it. A reload sets the formatter from the loop thread, and must not
// wait for the write(2) a stuck stderr holds the worker in (spdlog's
// stderr_sink_mt holds its mutex across the write: the loop stalled on the
// first SIGHUP). Only the one worker calls log(), so lines keep their order.
// Flushes the worker has reached (StderrSink::flush runs on it, after every
// line queued before the flush request): what flush_logging() waits for.
struct Flushes {
  std::mutex mutex;
  std::condition_variable reached;
  std::uint64_t count = 0;
};
Flushes& flushes() {
  static auto* f = new Flushes;  // never destroyed, as async_log() below
  return *f;
}

class StderrSink final : public spdlog::sinks::sink {
 public:
  StderrSink() : formatter_(std::make_unique<spdlog::pattern_formatter>()) {}
  void log(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    {
      std::lock_guard lock(mutex_);
      formatter_->format(msg, line);
    }
    // The whole line or, on an error other than EINTR, the rest of it
    // dropped (stderr closed: nothing to tell it to).
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const auto n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  // write(2) keeps nothing back; what a flush means here is that every line
  // queued before it has been written.
  void flush() override {
    auto& f = flushes();
    {
      std::lock_guard lock(f.mutex);
      ++f.count;
    }
    f.reached.notify_all();
  }
  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(mutex_);
    formatter_ = std::move(formatter);
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<spdlog::formatter> formatter_;
};

spdlog::level::level_enum to_spdlog(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::trace: return spdlog::level::trace;
    case config::LogLevel::debug: return spdlog::level::debug;
    case config::LogLevel::info: return spdlog::level::info;
    case config::LogLevel::warn: return spdlog::level::warn;
    case config::LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// The worker takes no signal: SIGTERM/SIGHUP are the event loop's, and a
// write(2) it is blocked in is neither interrupted (a torn line) nor, on a
// stderr whose reader went away, ended by SIGPIPE (EPIPE instead: the line is
// lost, the daemon keeps running, as under systemd's IgnoreSIGPIPE=yes).
void block_signals() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

struct AsyncLog {
  std::mutex mutex;
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::async_logger> logger;
  config::LogFormat format = config::LogFormat::text;
  std::uint64_t dropped_before = 0;  // by the pools of earlier setups (tests)
};

// Never destroyed: after a shutdown that gave up on a stuck stderr, the
// worker may still be blocked in write(2) when the process exits, and no
// static destructor may pull the logger from under it.
AsyncLog& async_log() {
  static auto* state = new AsyncLog;
  return *state;
}

}  // namespace

std::unique_ptr<spdlog::formatter> log_formatter(config::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == config::LogFormat::json) {
    formatter->add_flag<JsonEscapedMessage>('j').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%j"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v");
  }
  return formatter;
}

void setup_logging(config::LogLevel level, config::LogFormat format) {
  auto& s = async_log();
  std::lock_guard lock(s.mutex);
  if (!s.logger) {
    // One worker, so lines leave in the order they were logged.
    s.pool = std::make_shared<spdlog::details::thread_pool>(log_queue_lines, 1, block_signals);
    // spdlog 1.10 has two overflow policies: block (the loop would wait for
    // stderr, what this replaces) and overrun_oldest; discard_new, which
    // would keep the oldest lines of an outage, came only in a later spdlog.
    // So a full queue drops its oldest line for the new one: the lines
    // leading up to the end of an outage survive, and every drop is counted.
    s.logger = std::make_shared<spdlog::async_logger>(
        "healthsweepd", std::make_shared<StderrSink>(), s.pool,
        spdlog::async_overflow_policy::overrun_oldest);
    spdlog::set_default_logger(s.logger);
  }
  s.format = format;
  s.logger->set_formatter(log_formatter(format));
  s.logger->set_level(to_spdlog(level));
}

std::uint64_t log_lines_dropped() {
  auto& s = async_log();
  std::lock_guard lock(s.mutex);
  return s.dropped_before + (s.pool ? s.pool->overrun_counter() : 0);
}

bool flush_logging(std::chrono::milliseconds limit) {
  std::shared_ptr<spdlog::async_logger> logger;
  {
    auto& s = async_log();
    std::lock_guard lock(s.mutex);
    logger = s.logger;
  }
  if (!logger) return true;  // synchronous already
  auto& f = flushes();
  std::unique_lock lock(f.mutex);
  const auto before = f.count;
  lock.unlock();
  logger->flush();  // queued behind every line logged so far
  lock.lock();
  return f.reached.wait_for(lock, limit, [&] { return f.count > before; });
}

bool shutdown_logging(std::chrono::milliseconds limit) {
  auto& s = async_log();
  std::lock_guard lock(s.mutex);
  if (!s.logger) return true;
  // The pool's destructor queues a stop behind every line and joins the
  // worker; run on a thread of its own, so that a stderr nobody reads costs
  // `limit`, not the exit.
  auto pool = std::move(s.pool);
  s.dropped_before += pool->overrun_counter();
  std::promise<void> joined;
  auto done = joined.get_future();
  std::thread stopper([pool = std::move(pool), joined = std::move(joined)]() mutable {
    pool.reset();
    joined.set_value();
  });
  const bool drained = done.wait_for(limit) == std::future_status::ready;
  if (drained) stopper.join();
  else stopper.detach();  // blocked in write(2) until the process exits
  // From now on synchronously, in the same format and level.
  auto direct = std::make_shared<spdlog::logger>("healthsweepd",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  direct->set_formatter(log_formatter(s.format));
  direct->set_level(s.logger->level());
  direct->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(direct);
  s.logger.reset();
  return drained;
}

std::uint64_t DroppedLinesNotice::observe(std::uint64_t dropped_total, clock::time_point now) {
  const bool still_dropping = dropped_total != last_seen_;
  last_seen_ = dropped_total;
  if (still_dropping || dropped_total <= reported_) return 0;
  std::size_t not_said = 0;  // the limiter's count of refused calls: not needed here
  if (!limit_.allow(now, not_said)) return 0;
  const auto n = dropped_total - reported_;
  reported_ = dropped_total;
  return n;
}

}  // namespace healthsweep::daemon
