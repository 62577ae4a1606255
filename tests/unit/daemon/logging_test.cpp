// The daemon's logging off the event loop (issue 15): a stderr nobody reads
// never blocks the caller, drops are counted, lines stay whole and in order,
// a shutdown writes every queued line, and the two formats are byte for byte
// what they were. Each run that logs is a forked child with its stderr on a
// pipe this test reads (or does not), so the suite's own process keeps its
// logger and stderr.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/logging.hpp"

using healthsweep::config::LogFormat;
using healthsweep::config::LogLevel;
using namespace healthsweep::daemon;
using namespace std::chrono_literals;

namespace {

// A forked child whose stderr is the write end of a pipe. The child talks
// back through `report` (fixed-size records) and waits for `go` bytes; it ends
// with _exit, so no destructor or atexit handler writes anything for it.
class LoggingChild {
 public:
  struct Channel {
    int report = -1;  // child -> test
    int go = -1;      // test -> child
    void send(std::uint64_t v) const { (void)!write(report, &v, sizeof v); }
    void wait_go() const {
      char c;
      (void)!read(go, &c, 1);
    }
  };

  explicit LoggingChild(const std::function<void(const Channel&)>& body) {
    int err[2], rep[2], go[2];
    if (pipe(err) != 0 || pipe(rep) != 0 || pipe(go) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(err[1], STDERR_FILENO);
      for (int fd : {err[0], err[1], rep[0], go[1]}) close(fd);
      body(Channel{rep[1], go[0]});
      _exit(0);
    }
    for (int fd : {err[1], rep[1], go[0]}) close(fd);
    stderr_ = err[0];
    report_ = rep[0];
    go_ = go[1];
  }
  ~LoggingChild() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : {stderr_, report_, go_}) if (fd >= 0) close(fd);
  }

  // The child's next record, or nullopt when none came within `limit`.
  std::optional<std::uint64_t> next(std::chrono::milliseconds limit) {
    pollfd p{report_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
    std::uint64_t v = 0;
    if (read(report_, &v, sizeof v) != sizeof v) return std::nullopt;
    return v;
  }
  void go() { (void)!write(go_, "g", 1); }
  // Everything the child writes to stderr until it exits (EOF).
  std::string read_stderr() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(stderr_, buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  int exit_status() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int stderr_ = -1, report_ = -1, go_ = -1;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The "msg" of a line that must be one JSON object with ts, level and msg.
std::string json_msg(const std::string& line) {
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return "<not a JSON object: " + line + ">";
  const auto& o = v.as_object();
  if (!o.contains("ts") || !o.contains("level") || !o.contains("msg")) return "<fields missing: " + line + ">";
  return std::string(o.at("msg").as_string());
}

}  // namespace

// Old code: the caller wrote each line itself and blocked at the 65th KiB
// forever (the child never reports).
TEST(AsyncLogging, AnUnreadStderrNeverBlocksTheCallerAndDropsAreCountedWholeLines) {
  constexpr std::uint64_t burst = 100'000, after = 100;
  LoggingChild child([&](const LoggingChild::Channel& ch) {
    setup_logging(LogLevel::info, LogFormat::json);
    const auto t0 = std::chrono::steady_clock::now();
    // Quotes, a backslash and a tab: the escaping runs on the worker too.
    for (std::uint64_t i = 0; i < burst; ++i) spdlog::info("burst {} \"q\" \\ \t", i);
    // A reload (SIGHUP) while the worker is stuck in write(2): the formatter
    // is swapped without waiting for stderr.
    setup_logging(LogLevel::info, LogFormat::json);
    const auto took = std::chrono::steady_clock::now() - t0;
    ch.send(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    ch.send(log_lines_dropped());
    ch.wait_go();  // the test reads stderr from now on
    for (std::uint64_t i = 0; i < after; ++i) spdlog::info("after {}", i);
    ch.send(shutdown_logging(20s) ? 1 : 0);
    ch.send(log_lines_dropped());
  });
  const auto took_ms = child.next(30s);
  ASSERT_TRUE(took_ms) << "logging blocked on a stderr nobody reads";
  EXPECT_LT(*took_ms, 10'000u) << "100,000 lines took " << *took_ms << " ms";
  const auto dropped = child.next(5s);
  ASSERT_TRUE(dropped);
  // Pipe (64 KiB) and queue (8,192 lines) hold far fewer than 100,000.
  EXPECT_GT(*dropped, burst - log_queue_lines - 2000);

  std::string out;
  std::thread reader([&] { out = child.read_stderr(); });
  child.go();
  const auto drained = child.next(30s);
  const auto dropped_total = child.next(5s);
  reader.join();
  EXPECT_EQ(child.exit_status(), 0);
  ASSERT_TRUE(drained && dropped_total);
  EXPECT_EQ(*drained, 1u) << "shutdown gave up on a stderr being read";

  // Every line whole and one JSON object; the burst's survivors in order,
  // then every line logged after the reader came, and nothing else: the
  // counter is exactly what is missing.
  const auto lines = lines_of(out);
  EXPECT_EQ(lines.size(), burst + after - *dropped_total);
  ASSERT_GE(lines.size(), after);
  std::int64_t last = -1;
  for (std::size_t i = 0; i + after < lines.size(); ++i) {
    const auto msg = json_msg(lines[i]);
    long long n = -1;
    ASSERT_EQ(std::sscanf(msg.c_str(), "burst %lld \"q\" \\ \t", &n), 1) << lines[i];
    ASSERT_EQ(msg, "burst " + std::to_string(n) + " \"q\" \\ \t") << lines[i];
    ASSERT_GT(n, last) << "out of order at line " << i;
    last = n;
  }
  EXPECT_EQ(last, static_cast<std::int64_t>(burst) - 1) << "the newest lines of the burst are kept";
  for (std::uint64_t i = 0; i < after; ++i)
    EXPECT_EQ(json_msg(lines[lines.size() - after + i]), "after " + std::to_string(i));
}

// Old code without a drain would not need one; with the queue, an exit that
// skipped it would lose every line still queued (_exit: no destructor helps).
TEST(AsyncLogging, ShutdownWritesEveryQueuedLine) {
  constexpr int n = 5000;  // ~0.5 MiB: most still queued when the reader starts
  LoggingChild child([&](const LoggingChild::Channel& ch) {
    setup_logging(LogLevel::info, LogFormat::text);
    for (int i = 0; i < n; ++i) spdlog::info("line {}", i);
    ch.send(1);
    ch.send(shutdown_logging(20s) ? 1 : 0);
    spdlog::info("after shutdown");  // straight to stderr, after the queue
    ch.send(log_lines_dropped());
  });
  ASSERT_TRUE(child.next(30s)) << "logging blocked";
  const auto out = child.read_stderr();
  EXPECT_EQ(child.exit_status(), 0);
  EXPECT_EQ(child.next(1s), 1u);
  EXPECT_EQ(child.next(1s), 0u) << "a line was dropped";
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(n + 1));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(lines[i].ends_with(" info line " + std::to_string(i))) << lines[i];
  }
  EXPECT_TRUE(lines[n].ends_with(" info after shutdown")) << lines[n];
}

// flush_logging() returns once every line logged before it is written: what
// the daemon waits for before READY=1, so the journal shows "listening on"
// before systemd's "Started". Written straight to stderr after it, a marker
// must come after every line, though the pipe holds only a quarter of them
// until the test reads.
TEST(AsyncLogging, FlushWaitsUntilEveryEarlierLineIsWritten) {
  constexpr int n = 2000;  // ~120 KiB: the worker blocks on the pipe until it is read
  LoggingChild child([&](const LoggingChild::Channel& ch) {
    setup_logging(LogLevel::info, LogFormat::text);
    for (int i = 0; i < n; ++i) spdlog::info("line {} of the startup, padded to fill the pipe", i);
    ch.send(1);
    const bool flushed = flush_logging(20s);
    (void)!write(STDERR_FILENO, "MARKER\n", 7);
    ch.send(flushed ? 1 : 0);
    shutdown_logging(20s);
  });
  ASSERT_TRUE(child.next(30s)) << "logging blocked";
  const auto lines = lines_of(child.read_stderr());
  EXPECT_EQ(child.exit_status(), 0);
  EXPECT_EQ(child.next(1s), 1u) << "flush_logging gave up";
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(n + 1));
  EXPECT_EQ(lines[n], "MARKER") << "the flush returned before every earlier line was written";
}

// A reload sets the formatter on the loop thread while the worker formats
// with it: every line stays whole, in one format or the other.
TEST(AsyncLogging, AFormatChangeWhileTheWorkerWritesKeepsLinesWhole) {
  constexpr int n = 20'000;
  LoggingChild child([&](const LoggingChild::Channel& ch) {
    setup_logging(LogLevel::info, LogFormat::text);
    std::thread logger([] {
      for (int i = 0; i < n; ++i) spdlog::info("r {}", i);
    });
    for (int k = 0; k < 400; ++k)
      setup_logging(LogLevel::info, k % 2 ? LogFormat::text : LogFormat::json);
    logger.join();
    ch.send(shutdown_logging(20s) ? 1 : 0);
    ch.send(log_lines_dropped());
  });
  std::string out;
  std::thread reader([&] { out = child.read_stderr(); });
  const auto drained = child.next(30s);
  const auto dropped = child.next(5s);
  reader.join();
  EXPECT_EQ(child.exit_status(), 0);
  ASSERT_TRUE(drained && dropped);
  const auto lines = lines_of(out);
  EXPECT_EQ(lines.size(), n - *dropped);
  for (const auto& l : lines) {
    const bool json = l.starts_with("{");
    const auto msg = json ? json_msg(l) : l.substr(l.find(" info ") == std::string::npos ? 0 : l.find(" info ") + 6);
    ASSERT_TRUE(msg.starts_with("r ") && msg.find_first_not_of("0123456789", 2) == std::string::npos) << l;
  }
}

// Byte for byte what the synchronous sink wrote before issue 15.
TEST(AsyncLogging, TheFormatsAreUnchanged) {
  using namespace std::chrono;
  const auto t = sys_days{2026y / January / 2} + 3h + 4min + 5s + 678ms;
  const spdlog::details::log_msg msg(time_point_cast<spdlog::log_clock::duration>(t), spdlog::source_loc{},
                                     "healthsweepd", spdlog::level::warn, "say \"hi\"\\ \n\t\x01 é");
  spdlog::memory_buf_t json, text;
  log_formatter(LogFormat::json)->format(msg, json);
  log_formatter(LogFormat::text)->format(msg, text);
  EXPECT_EQ(fmt::to_string(json),
            "{\"ts\":\"2026-01-02T03:04:05.678Z\",\"level\":\"warning\",\"msg\":\"say \\\"hi\\\"\\\\ \\n\\t\\u0001 é\"}\n");
  EXPECT_EQ(fmt::to_string(text), "2026-01-02T03:04:05.678Z warning say \"hi\"\\ \n\t\x01 é\n");
}

TEST(DroppedLinesNotice, SaysOnceAfterTheDropsStopWithTheirCount) {
  DroppedLinesNotice notice;
  const auto t0 = DroppedLinesNotice::clock::time_point{} + 100s;
  EXPECT_EQ(notice.observe(0, t0), 0u);
  EXPECT_EQ(notice.observe(0, t0 + 1s), 0u) << "nothing dropped";
  EXPECT_EQ(notice.observe(300, t0 + 2s), 0u) << "still dropping: the line would be dropped too";
  EXPECT_EQ(notice.observe(900, t0 + 3s), 0u);
  EXPECT_EQ(notice.observe(900, t0 + 4s), 900u) << "the outage is over";
  EXPECT_EQ(notice.observe(900, t0 + 5s), 0u) << "said once";
  EXPECT_EQ(notice.observe(900, t0 + 6s), 0u);
  // A second outage: only its own lines.
  EXPECT_EQ(notice.observe(950, t0 + 7s), 0u);
  EXPECT_EQ(notice.observe(950, t0 + 8s), 50u);
}

TEST(DroppedLinesNotice, AtMostOnceASecondHoweverOftenItIsAsked) {
  DroppedLinesNotice notice;
  const auto t0 = DroppedLinesNotice::clock::time_point{} + 100s;
  EXPECT_EQ(notice.observe(10, t0), 0u);
  EXPECT_EQ(notice.observe(10, t0 + 10ms), 10u);
  EXPECT_EQ(notice.observe(12, t0 + 20ms), 0u);
  EXPECT_EQ(notice.observe(12, t0 + 30ms), 0u) << "within the second of the last line";
  EXPECT_EQ(notice.observe(12, t0 + 1010ms), 2u);
}
