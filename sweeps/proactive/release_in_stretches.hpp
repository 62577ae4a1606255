// Frees what a sweep built for 10,000 containers a stretch at a time, with a
// turn of the loop between stretches, instead of in the one handler where it
// goes out of scope.
//
// Why: a 10,000-container list is ~100,000 small blocks (every summary's
// strings and labels), the sweep's scratch maps ~20,000 entries each, its
// target snapshot 20,000 specs. Destroyed at the end of a scope, each was one
// handler of 5-18 ms of _int_free on the loop, about once a sweep: the
// longest handlers left in a fleet profile after the probe fix (issue 15,
// bench/results/issue15-fleet-be26f95-profile-2026-12-05-long-turns.txt).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <utility>

namespace healthsweep::sweeps::proactive {

// Empties `c` (a vector, or a map or set) `per_turn` elements at a time,
// yielding to the loop's other handlers between stretches. Erasing keeps a
// hash map's buckets, as clear() does: a scratch map drained this way is
// refilled without rehashing.
template <class Container>
boost::asio::awaitable<void> drain_in_stretches(Container& c, std::size_t per_turn) {
  if (per_turn == 0) {  // no yields wanted (a benchmark's baseline)
    c.clear();
    co_return;
  }
  while (!c.empty()) {
    for (std::size_t n = 0; n < per_turn && !c.empty(); ++n) {
      if constexpr (requires { c.pop_back(); }) c.pop_back();
      else c.erase(c.begin());
    }
    if (!c.empty()) co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
  }
}

// Takes `c` (moved in: the caller's is empty at once) and frees it in
// stretches on `ex`, in a coroutine of its own, each stretch in a later turn
// of the loop while the caller goes on. At shutdown, the io_context's
// destruction frees what is left.
template <class Container>
void release_in_stretches(const boost::asio::any_io_executor& ex, Container c, std::size_t per_turn) {
  if (c.empty()) return;
  boost::asio::co_spawn(
      ex,
      [owned = std::move(c), per_turn]() mutable -> boost::asio::awaitable<void> {
        // Not in the caller's turn, which may release several at once.
        co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
        co_await drain_in_stretches(owned, per_turn);  // co_spawn keeps the lambda until this ends
      },
      boost::asio::detached);
}

}  // namespace healthsweep::sweeps::proactive
