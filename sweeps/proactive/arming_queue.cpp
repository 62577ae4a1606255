#include "sweeps/proactive/arming_queue.hpp"

#include <boost/asio/co_spawn.hpp>

#include <algorithm>
#include <deque>
#include <utility>

#include "clients/net/log_failure.hpp"

namespace healthsweep::sweeps::proactive {

namespace net = boost::asio;

struct ArmingQueue::State {
  net::any_io_executor executor;
  std::size_t limit = 1;
  Arm arm;
  Settled settled;
  std::deque<ArmRequest> queue;
  std::size_t workers = 0;
  bool stopped = false;
};

namespace {

// One worker: takes requests in queue order until none is left.
net::awaitable<void> work(std::shared_ptr<ArmingQueue::State> s) {
  while (!s->stopped && !s->queue.empty()) {
    ArmRequest next = std::move(s->queue.front());
    s->queue.pop_front();
    if (s->settled && s->settled(next)) continue;
    co_await s->arm(std::move(next));
  }
}

void start_workers(const std::shared_ptr<ArmingQueue::State>& s) {
  while (!s->stopped && s->workers < s->limit && s->workers < s->queue.size()) {
    ++s->workers;
    // Counted down when the worker ends, even by an exception (logged).
    net::co_spawn(s->executor, work(s),
                  clients::net::log_failure("proactive: process watch arming", [s] { --s->workers; }));
  }
}

}  // namespace

ArmingQueue::ArmingQueue(net::any_io_executor ex, std::size_t limit, Arm arm, Settled settled)
    : state_(std::make_shared<State>()) {
  state_->executor = std::move(ex);
  state_->limit = std::max<std::size_t>(limit, 1);
  state_->arm = std::move(arm);
  state_->settled = std::move(settled);
}

ArmingQueue::~ArmingQueue() { stop(); }

void ArmingQueue::push(ArmRequest request) {
  if (state_->stopped) return;
  state_->queue.push_back(std::move(request));
  start_workers(state_);
}

void ArmingQueue::set_limit(std::size_t limit) {
  state_->limit = std::max<std::size_t>(limit, 1);
  start_workers(state_);
}

std::size_t ArmingQueue::limit() const { return state_->limit; }
std::size_t ArmingQueue::queued() const { return state_->queue.size(); }
std::size_t ArmingQueue::workers() const { return state_->workers; }

void ArmingQueue::stop() {
  state_->stopped = true;
  state_->queue.clear();
}

}  // namespace healthsweep::sweeps::proactive
