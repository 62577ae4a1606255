// Test support: a TCP proxy that delays every byte by a set time in each
// direction, order kept: a slow link where `tc netem` is not available. It
// listens on an address of the test's choosing (port 0: any) and forwards to
// 127.0.0.1:upstream_port. Runs on its own thread and io_context; stops and
// joins on destruction.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace healthsweep::testing {

class DelayProxy {
 public:
  DelayProxy(const std::string& listen_address, int upstream_port);
  ~DelayProxy();
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  int port() const;
  // Applies to bytes read from now on (those already queued keep theirs).
  void set_delay(std::chrono::milliseconds one_way);
  int connections_accepted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::testing
