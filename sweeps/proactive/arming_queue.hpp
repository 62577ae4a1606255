// The process watch's arming queue: running containers whose main process
// is to be watched (a target id and a container id each), handed in the
// order queued to at most `limit` workers at once. Each worker inspects one
// container (one engine round trip, to learn its PID) and arms its watch,
// then takes the next. A fleet's first sweep queues every container at once
// (issue 15: 1,000 new containers armed within 5 s, where one inspect after
// another took one engine round trip each, in a row); the limit keeps the
// engine client's pool free for the sweep, the hook's checks and restarts.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace healthsweep::sweeps::proactive {

struct ArmRequest {
  std::string id;         // the target
  std::string container;  // its container (full id)
};

class ArmingQueue {
 public:
  // Inspects and watches one container. Runs on the executor.
  using Arm = std::function<boost::asio::awaitable<void>(ArmRequest)>;
  // True when a request need not be carried out any more (a start event
  // armed the watch meanwhile): it is dropped without an inspect.
  using Settled = std::function<bool(const ArmRequest&)>;

  ArmingQueue(boost::asio::any_io_executor ex, std::size_t limit, Arm arm, Settled settled);
  ~ArmingQueue();
  ArmingQueue(const ArmingQueue&) = delete;
  ArmingQueue& operator=(const ArmingQueue&) = delete;

  // Queues a request and starts a worker if fewer than limit() run.
  void push(ArmRequest request);
  // Workers at once from now on (at least 1); running workers are not cut.
  void set_limit(std::size_t limit);
  std::size_t limit() const;
  std::size_t queued() const;   // waiting for a worker
  std::size_t workers() const;  // running, at most limit()
  // Drops what is queued; each worker ends after its current request.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;  // the workers hold it too
};

}  // namespace healthsweep::sweeps::proactive
