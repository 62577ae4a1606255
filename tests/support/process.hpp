// Test support: child processes, temporary directories, free ports and the
// "is this service here?" rule (skip loudly on a developer machine, fail in CI).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace healthsweep::testing {

// A directory under /tmp removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to file(name) and returns its path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// A child process; stdout and stderr go to log_path. Killed (SIGKILL) and
// reaped on destruction if still running, so a failing test leaks nothing.
class Subprocess {
 public:
  Subprocess(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& extra_env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Exit status (128+signal when killed by a signal), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

// An unused loopback TCP port, bound and released: another process may take
// it meanwhile. Only for servers we do not own that cannot bind port 0 and
// report it (Redis, PostgreSQL, Prometheus); their starters retry on a clash.
// The daemon binds port 0 and logs its port; a port that must refuse is a
// ClosedPort.
int free_port();

// A loopback port that refuses connections for as long as this object lives:
// bound (so nobody else can take it) but never listening.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string read_file(const std::string& path);
// Polls `pred` every `poll` (10 ms unless said) until it is true or
// `timeout` passes. A finer poll is for a moment that lasts less than 10 ms.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout,
                std::chrono::microseconds poll = std::chrono::milliseconds(10));
// Whether `pred` stays true for the whole `window` (polled every 10 ms).
// "Nothing happens" can only be observed over a window: this names it, and
// fails at the first moment it does happen.
template <class Pred>
bool holds_for(std::chrono::milliseconds window, Pred pred);

// Runs a shell command, returns its exit status; output appended to *out if given.
int run_shell(const std::string& command, std::string* out = nullptr);

bool in_ci();  // CI=true in the environment

}  // namespace healthsweep::testing

// Gets an environment variable naming a shared service (set by scripts/test)
// into `var`; when it is missing the test is skipped with a loud message, or
// fails under CI=true where a missing service is a defect.
#define HS_REQUIRE_ENV(var, name)                                               \
  std::string var;                                                              \
  do {                                                                          \
    const char* v_ = std::getenv(name);                                         \
    if (!v_ || !*v_) {                                                          \
      if (::healthsweep::testing::in_ci())                                      \
        GTEST_FAIL() << name " is not set: scripts/test could not start this service (CI=true)"; \
      GTEST_SKIP() << "SKIPPED LOUDLY: " name " is not set; run through scripts/test to start the service"; \
    }                                                                           \
    var = v_;                                                                   \
  } while (0)

#include "tests/support/process_impl.hpp"
