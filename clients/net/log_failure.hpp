// The one completion handler for co_spawn. A coroutine that ends with an
// exception logs it, naming what it was ("proactive poll: ..."), instead of
// the exception vanishing (net::detached) or ending the process (no handler
// rethrows it from io_context::run). `then`, if given, runs after the log
// either way: the place for bookkeeping that must happen when the coroutine
// ends (an in-flight count), or to keep an owner alive until then.
//
//   net::co_spawn(ex, poll_loop(), clients::net::log_failure("proactive poll"));
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace healthsweep::clients::net {

class LogFailure {
 public:
  explicit LogFailure(std::string what, std::function<void()> then = {})
      : what_(std::move(what)), then_(std::move(then)) {}
  void operator()(std::exception_ptr e) const;

 private:
  std::string what_;
  std::function<void()> then_;
};

inline LogFailure log_failure(std::string what, std::function<void()> then = {}) {
  return LogFailure(std::move(what), std::move(then));
}

}  // namespace healthsweep::clients::net
