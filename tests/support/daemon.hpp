// Test support: a real healthsweepd process with its own config file, its own
// sd_notify socket (NOTIFY_SOCKET) and an ephemeral loopback port, plus a
// small blocking HTTP client to talk to it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection refused, reset, timeout)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

using Headers = std::vector<std::pair<std::string, std::string>>;
HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const Headers& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The same to another address than 127.0.0.1 (a daemon in a network namespace).
HttpResponse http_request(const std::string& host, int port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const Headers& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

class Daemon {
 public:
  struct Options {
    std::vector<std::string> extra_env;
    bool wait_ready = true;            // wait for READY=1 on NOTIFY_SOCKET
    std::string watchdog_usec;         // sets WATCHDOG_USEC when not empty
    std::vector<std::string> command_prefix;  // e.g. {"/usr/bin/prlimit", "--nofile=300:300"}
    std::string http_host = "127.0.0.1";     // where get()/post() reach its listener
  };
  // `config_yaml` is written to <dir>/healthsweep.yaml; unless it sets
  // `listen`, "listen: 127.0.0.1:0" is prepended and the bound port is read
  // from the daemon's "listening on" log line.
  explicit Daemon(const std::string& config_yaml);
  Daemon(const std::string& config_yaml, Options options);
  ~Daemon();

  int port() const { return port_; }
  TempDir& dir() { return *dir_; }
  Subprocess& process() { return *process_; }
  std::string log() const { return process_->log(); }
  std::string config_path() const { return dir_->file("healthsweep.yaml"); }
  void write_config(const std::string& config_yaml);

  HttpResponse get(const std::string& target) const;
  HttpResponse post(const std::string& target, const std::string& body,
                    const std::string& bearer = {}) const;

  // sd_notify messages received so far ("READY=1", "WATCHDOG=1", ...).
  std::vector<std::string> notifications();
  bool wait_notification(const std::string& message, std::chrono::milliseconds timeout);
  // Time from spawn to the READY=1 message (set once it arrived).
  std::chrono::microseconds time_to_ready() const { return time_to_ready_; }

 private:
  void drain_notify_socket();
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Subprocess> process_;
  int notify_fd_ = -1;
  int port_ = 0;
  std::string http_host_;
  std::vector<std::string> notes_;
  std::chrono::microseconds time_to_ready_{0};
};

}  // namespace healthsweep::testing
