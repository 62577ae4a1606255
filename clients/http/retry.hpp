// The one stale-connection rule of the keep-alive pools (HttpConnectionPool,
// the engine client's pool): a server may close a keep-alive connection while
// it sits idle, and we learn it only when the next request on it fails. So a
// reused connection that fails before any byte of the response arrives is
// replaced by a fresh one once, within the same deadline: a stale connection
// never reads as a dead server. A fresh connection's failure is the answer.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <utility>

namespace healthsweep::clients::http {

// What one try on one connection gave.
template <class Result>
struct Attempt {
  Result result;
  // Failed on a reused connection before any byte of the response arrived
  // (the transport's own signature of a connection closed while idle). The
  // try has already closed that connection.
  bool stale = false;
};

// co_await try_once(fresh_only) -> Attempt<Result>: one request on a pooled
// connection, or on a new one when fresh_only. When the first try was stale
// and the deadline has not passed, on_retry() is told and a fresh try's
// result is returned; otherwise the first try's.
template <class Result, class TryOnce, class OnRetry>
boost::asio::awaitable<Result> retry_once_if_stale(std::chrono::steady_clock::time_point deadline, TryOnce try_once,
                                                   OnRetry on_retry) {
  Attempt<Result> first = co_await try_once(false);
  if (!first.stale || std::chrono::steady_clock::now() >= deadline) co_return std::move(first.result);
  on_retry();
  Attempt<Result> second = co_await try_once(true);
  co_return std::move(second.result);
}

}  // namespace healthsweep::clients::http
