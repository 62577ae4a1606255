// Issue 15: a real healthsweepd whose stderr is a pipe nobody reads (4 KiB,
// the smallest a pipe gets) for seconds while reloads make it log thousands
// of lines: /healthz keeps answering at once, the lines that did not fit are
// counted and, once the pipe is read again, said in one line; SIGTERM still
// writes the queue out. Before issue 15 the loop blocked in write(2) at the
// first full pipe and every probe timed out.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/metrics_text.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

// 200 static targets named <set>-<n>: switching sets on a reload logs 400
// lines ("removed", "appeared").
std::string config_with(char set) {
  std::string c = "listen: 127.0.0.1:0\nlog:\n  level: info\n  format: json\nshutdown_grace: 2s\n"
                  "targets:\n  static:\n";
  for (int i = 0; i < 200; ++i) c += "    - id: " + std::string(1, set) + "-" + std::to_string(i) + "\n";
  return c;
}

// healthsweepd with stdout and stderr on a pipe whose read end the test owns.
class PipedDaemon {
 public:
  explicit PipedDaemon(const std::string& config_path) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    fcntl(p[0], F_SETPIPE_SZ, 4096);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(p[1], STDOUT_FILENO);
      dup2(p[1], STDERR_FILENO);
      execl(HEALTHSWEEPD_PATH, "healthsweepd", "--config", config_path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(p[1]);
    fd_ = p[0];
  }
  ~PipedDaemon() {
    if (reader_.joinable()) {
      kill(pid_, SIGKILL);
      reader_.join();
    }
    if (!reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
  }
  pid_t pid() const { return pid_; }

  // Reads (on this thread) until a line holds `needle`; that line, or empty
  // after `limit`.
  std::string read_until(const std::string& needle, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (auto at = text_.find(needle); at != std::string::npos) {
        const auto nl = text_.find('\n', at);
        if (nl != std::string::npos) return text_.substr(text_.rfind('\n', at) + 1, nl - text_.rfind('\n', at) - 1);
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      char buf[4096];
      const auto n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      text_.append(buf, static_cast<std::size_t>(n));
    }
    return {};
  }
  // From now on a thread reads everything until EOF.
  void start_reading() {
    reader_ = std::thread([this] {
      char buf[65536];
      for (ssize_t n; (n = read(fd_, buf, sizeof buf)) > 0;) {
        std::lock_guard lock(mutex_);
        text_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  std::optional<int> stop(std::chrono::milliseconds limit) {
    kill(pid_, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        reader_.join();  // EOF: the daemon was the last writer
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string text_;
  std::mutex mutex_;
  std::thread reader_;
};

}  // namespace

TEST(LogBackpressure, AStderrNobodyReadsNeitherSlowsTheLoopNorLosesTheQueueAtExit) {
  TempDir dir;
  const auto config = dir.write("healthsweep.yaml", config_with('a'));
  PipedDaemon d(config);
  const auto listening = d.read_until("listening on 127.0.0.1:", 20s);
  ASSERT_FALSE(listening.empty()) << "no start line";
  const int port = std::stoi(listening.substr(listening.find("127.0.0.1:") + 10));

  // From here on nobody reads the pipe for 4 s, while a reload every 25 ms
  // logs 400 lines (about 16,000 a second against a queue of 8,192).
  std::atomic<bool> flooding{true};
  std::thread reloads([&] {
    for (int i = 0; flooding; ++i) {
      dir.write("next.yaml", config_with(i % 2 ? 'a' : 'b'));
      std::filesystem::rename(dir.file("next.yaml"), config);
      kill(d.pid(), SIGHUP);
      std::this_thread::sleep_for(25ms);
    }
  });
  std::vector<double> took_ms;
  int failed = 0;
  const auto end = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < end) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = http_request(port, "GET", "/healthz", {}, {}, 3s);
    took_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (r.status != 200) ++failed;
    std::this_thread::sleep_for(20ms);
  }
  flooding = false;
  reloads.join();
  const double worst = *std::max_element(took_ms.begin(), took_ms.end());
  EXPECT_EQ(failed, 0) << "of " << took_ms.size() << " probes";
  EXPECT_LT(worst, 1000.0) << "the slowest of " << took_ms.size() << " probes (ms)";

  // Read again: the drops are counted and said once in a line.
  d.start_reading();
  EXPECT_TRUE(eventually([&] { return d.text().find("lines dropped while stderr was not read") != std::string::npos; },
                         10s))
      << "no line about the dropped lines; read " << d.text().size() << " bytes";
  const auto metrics = http_request(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_GT(series_value(metrics.body, "healthsweep_log_lines_dropped_total"), 0);

  // SIGTERM: every queued line is written, the last one included.
  const auto status = d.stop(20s);
  ASSERT_TRUE(status) << "no exit after SIGTERM";
  EXPECT_EQ(*status, 0);
  const auto text = d.text();
  ASSERT_FALSE(text.empty());
  const auto last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  EXPECT_NE(last.find("\"msg\":\"stopped\""), std::string::npos) << last;
}
