// The one slot limiter of the keep-alive pools (HttpConnectionPool, the
// engine client's pool): at most `capacity` holders at a time; the others
// wait in arrival order, each until its own deadline. A released slot passes
// straight to the first waiter, so a newcomer never overtakes the queue.
//
// Runs on the one executor it is given (the daemon's single-threaded loop).
// A waiter lives in the frame of the coroutine that awaits acquire(): if that
// coroutine is cancelled or destroyed, it leaves the queue, and a slot it was
// handed but never took passes on.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <list>
#include <utility>

namespace healthsweep::clients::http {

class Slots {
 public:
  using Clock = std::chrono::steady_clock;

  // capacity 0 is taken as 1.
  Slots(boost::asio::any_io_executor ex, std::size_t capacity);
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;

  // Waits for a slot until `deadline` (by default: as long as it takes).
  // {}: the caller holds a slot and must release() it; timed_out: the
  // deadline passed first (also when a slot came just as it passed);
  // operation_aborted: the wait was cancelled.
  boost::asio::awaitable<boost::system::error_code> acquire(Clock::time_point deadline = Clock::time_point::max());
  // Gives a held slot back: to the first waiter, or free.
  void release();

  std::size_t capacity() const { return capacity_; }
  std::size_t in_use() const { return in_use_; }  // held or handed to a waiter not yet resumed
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  boost::asio::any_io_executor ex_;
  std::size_t capacity_;
  std::size_t in_use_ = 0;
  std::list<Waiter*> waiters_;
};

// Holds one slot acquired from `slots` until destruction (or release()).
class SlotHold {
 public:
  SlotHold() = default;
  explicit SlotHold(Slots& slots) : slots_(&slots) {}
  SlotHold(const SlotHold&) = delete;
  SlotHold& operator=(const SlotHold&) = delete;
  ~SlotHold() { release(); }
  bool held() const { return slots_ != nullptr; }
  void release() {
    if (slots_) std::exchange(slots_, nullptr)->release();
  }

 private:
  Slots* slots_ = nullptr;
};

}  // namespace healthsweep::clients::http
