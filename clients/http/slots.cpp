#include "clients/http/slots.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace healthsweep::clients::http {

namespace net = boost::asio;
using boost::system::error_code;

// A call waiting for a slot. release() hands it the slot and cancels its
// timer; the timer expiring means the deadline passed.
struct Slots::Waiter {
  Waiter(Slots& owner, Clock::time_point deadline) : slots(owner), timer(owner.ex_, deadline) {
    position = slots.waiters_.insert(slots.waiters_.end(), this);
  }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter() {
    if (queued) slots.waiters_.erase(position);
    if (granted) slots.release();  // handed a slot, but the caller went away
  }
  Slots& slots;
  net::steady_timer timer;
  std::list<Waiter*>::iterator position;
  bool queued = true;
  bool granted = false;
};

Slots::Slots(net::any_io_executor ex, std::size_t capacity)
    : ex_(std::move(ex)), capacity_(std::max<std::size_t>(capacity, 1)) {}

net::awaitable<error_code> Slots::acquire(Clock::time_point deadline) {
  if (in_use_ < capacity_ && waiters_.empty()) {
    ++in_use_;
    co_return error_code{};
  }
  Waiter waiter(*this, deadline);
  error_code ec;
  co_await waiter.timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  if (waiter.granted) {
    waiter.granted = false;
    if (Clock::now() >= deadline) {  // granted just as the deadline passed: too late to use it
      release();
      co_return make_error_code(boost::system::errc::timed_out);
    }
    co_return error_code{};
  }
  // Not granted: the deadline passed, or our caller cancelled the wait.
  co_return ec == net::error::operation_aborted ? ec : make_error_code(boost::system::errc::timed_out);
}

void Slots::release() {
  if (waiters_.empty()) {
    --in_use_;
    return;
  }
  Waiter* next = waiters_.front();  // the slot passes straight to it
  waiters_.pop_front();
  next->queued = false;
  next->granted = true;
  next->timer.cancel();
}

}  // namespace healthsweep::clients::http
