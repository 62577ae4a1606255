// A real redis-server for a test: loopback TCP on a free port plus a unix
// socket, in its own TempDir, no persistence (--save "" --appendonly no).
// It can be stopped, killed and restarted on the same port, and is killed and
// removed when the object dies (also when the test fails).
// A small blocking hiredis client drives it from the test.
#pragma once

#include "tests/support/process.hpp"

#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace healthsweep::testing {

// Blocking client for test setup and assertions (never used by the daemon).
class RedisTestClient {
 public:
  RedisTestClient(const std::string& host, int port);
  ~RedisTestClient();
  RedisTestClient(const RedisTestClient&) = delete;
  RedisTestClient& operator=(const RedisTestClient&) = delete;

  bool ok() const;
  // One command; the reply as text: status/string as is, integers in
  // decimal, nil as "(nil)", errors as "ERR: ...", arrays joined by '\n'.
  std::string run(const std::vector<std::string>& args);
  long long integer(const std::vector<std::string>& args);
  // Many commands pipelined; returns how many got an error reply (or none).
  int pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  void reconnect();
  std::string host_;
  int port_;
  redisContext* c_ = nullptr;
};

class RedisServer {
 public:
  struct Options {
    std::vector<std::string> config_lines;  // extra redis.conf lines, e.g. rename-command CONFIG ""
    // `redis-server CONF --sentinel`: a Redis Sentinel (config_lines give its
    // `sentinel monitor ...`); no unix socket, no data directives.
    bool sentinel = false;
  };
  // Starts redis-server and waits until it answers PING; nullptr (and *why)
  // when it cannot.
  static std::unique_ptr<RedisServer> start(Options options, std::string* why);
  static std::unique_ptr<RedisServer> start(std::string* why) { return start(Options{}, why); }
  ~RedisServer();

  int port() const { return port_; }
  const std::string& socket_path() const { return socket_; }
  std::string url(int db = 0) const;   // redis://127.0.0.1:PORT/db
  std::string unix_url(int db = 0) const;
  std::string log() const;

  void stop();     // SIGTERM, wait
  void kill();     // SIGKILL, wait
  // A fresh server on the same port and socket. Data is gone unless a SAVE
  // left dump.rdb behind (then it is loaded). `extra_lines` apply to this
  // launch only; without `wait_ready` it returns once the process runs
  // (e.g. to watch it answer LOADING).
  bool restart(const std::vector<std::string>& extra_lines = {}, bool wait_ready = true);
  void pause();    // SIGSTOP: connected but silent, like a hung server
  void resume();   // SIGCONT
  bool running();

  // A new blocking client (its own connection).
  std::unique_ptr<RedisTestClient> client() const;

 private:
  RedisServer() = default;
  bool launch(std::string* why, const std::vector<std::string>& extra_lines = {}, bool wait_ready = true);
  TempDir dir_;
  Options options_;
  int port_ = 0;
  std::string socket_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace healthsweep::testing

// Starts a RedisServer into `var` (a std::unique_ptr<RedisServer>); when
// redis-server cannot start the test is skipped loudly, or fails under CI=true.
#define HS_REQUIRE_REDIS(var, ...)                                                           \
  std::unique_ptr<::healthsweep::testing::RedisServer> var;                                  \
  do {                                                                                       \
    std::string why_;                                                                        \
    var = ::healthsweep::testing::RedisServer::start(__VA_ARGS__ __VA_OPT__(, ) & why_);     \
    if (!var) {                                                                              \
      if (::healthsweep::testing::in_ci()) GTEST_FAIL() << "redis-server did not start (CI=true): " << why_; \
      GTEST_SKIP() << "SKIPPED LOUDLY: redis-server did not start: " << why_;                \
    }                                                                                        \
  } while (0)
