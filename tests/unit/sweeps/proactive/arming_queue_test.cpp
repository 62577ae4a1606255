// The process watch's arming queue, with a fake inspect: an engine round
// trip of a few milliseconds on a timer, counting how many are in flight.
#include "sweeps/proactive/arming_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace healthsweep::sweeps::proactive {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

struct FakeInspects {
  net::io_context io;
  std::size_t in_flight = 0, max_in_flight = 0;
  std::vector<std::string> started, finished;
  std::set<std::string> settled_already;

  // Round trips of 1–4 ms, uneven so that workers finish out of order.
  net::awaitable<void> arm(ArmRequest r) {
    started.push_back(r.id);
    max_in_flight = std::max(max_in_flight, ++in_flight);
    net::steady_timer t(io, std::chrono::milliseconds(1 + started.size() % 4));
    co_await t.async_wait(net::use_awaitable);
    --in_flight;
    finished.push_back(r.id);
  }
  ArmingQueue queue(std::size_t limit) {
    return ArmingQueue(io.get_executor(), limit, [this](ArmRequest r) { return arm(std::move(r)); },
                       [this](const ArmRequest& r) { return settled_already.count(r.id) > 0; });
  }
};

std::vector<std::string> ids(int n, const std::string& prefix = "t") {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

void push_all(ArmingQueue& q, const std::vector<std::string>& v) {
  for (const auto& id : v) q.push(ArmRequest{id, "c-" + id});
}

TEST(ArmingQueue, KeepsLimitInspectsInFlightAndStartsThemInQueueOrder) {
  FakeInspects f;
  auto q = f.queue(4);
  const auto want = ids(40);
  push_all(q, want);
  EXPECT_EQ(q.workers(), 4u) << "workers start as soon as requests are queued";
  f.io.run();
  EXPECT_EQ(f.max_in_flight, 4u);
  EXPECT_EQ(f.started, want) << "each request is taken in the order it was queued";
  EXPECT_EQ(f.finished.size(), want.size());
  EXPECT_EQ(q.workers(), 0u);
  EXPECT_EQ(q.queued(), 0u);
}

TEST(ArmingQueue, OneWorkerInspectsOneAfterAnother) {
  FakeInspects f;
  auto q = f.queue(1);
  push_all(q, ids(10));
  f.io.run();
  EXPECT_EQ(f.max_in_flight, 1u);
  EXPECT_EQ(f.finished, f.started) << "one at a time finishes in order";
}

TEST(ArmingQueue, FewerRequestsThanTheLimitStartFewerWorkers) {
  FakeInspects f;
  auto q = f.queue(8);
  push_all(q, ids(3));
  EXPECT_EQ(q.workers(), 3u);
  f.io.run();
  EXPECT_EQ(f.max_in_flight, 3u);
}

TEST(ArmingQueue, RequestsQueuedWhileWorkersRunStayWithinTheLimit) {
  FakeInspects f;
  auto q = f.queue(3);
  push_all(q, ids(5, "a"));
  // A second sweep queues more while the first batch is in flight.
  net::steady_timer later(f.io, 2ms);
  later.async_wait([&](auto) { push_all(q, ids(5, "b")); });
  f.io.run();
  EXPECT_EQ(f.max_in_flight, 3u);
  ASSERT_EQ(f.started.size(), 10u);
  EXPECT_EQ(std::vector<std::string>(f.started.begin() + 5, f.started.end()), ids(5, "b"));
}

TEST(ArmingQueue, SettledRequestsAreDroppedWithoutAnInspect) {
  FakeInspects f;
  f.settled_already = {"t1", "t3"};
  auto q = f.queue(2);
  push_all(q, ids(5));
  f.io.run();
  EXPECT_EQ(f.started, (std::vector<std::string>{"t0", "t2", "t4"}));
}

TEST(ArmingQueue, StopDropsWhatIsQueuedAndLetsTheCurrentInspectsEnd) {
  FakeInspects f;
  auto q = f.queue(2);
  push_all(q, ids(10));
  f.io.run_one();  // both workers start their first inspect
  f.io.run_one();
  q.stop();
  EXPECT_EQ(q.queued(), 0u);
  q.push(ArmRequest{"late", "c-late"});
  f.io.run();
  EXPECT_EQ(f.started, (std::vector<std::string>{"t0", "t1"}));
  EXPECT_EQ(f.finished.size(), 2u);
  EXPECT_EQ(q.workers(), 0u);
}

TEST(ArmingQueue, ARaisedLimitStartsMoreWorkersAtOnce) {
  FakeInspects f;
  auto q = f.queue(1);
  push_all(q, ids(20));
  q.set_limit(5);
  f.io.run();
  EXPECT_EQ(f.max_in_flight, 5u);
  EXPECT_EQ(f.started, ids(20));
}

}  // namespace
}  // namespace healthsweep::sweeps::proactive
