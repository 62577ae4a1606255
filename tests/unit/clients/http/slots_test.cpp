// The pools' shared pieces: the FIFO slot limiter with deadline-bounded
// waiting (clients/http/slots.hpp) and the retry-once-on-a-stale-connection
// rule (clients/http/retry.hpp), on a real io_context without sockets.
#include "clients/http/retry.hpp"
#include "clients/http/slots.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace healthsweep::clients::http;
using namespace std::chrono_literals;
namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

TEST(Slots, WaitersGetReleasedSlotsInArrivalOrder) {
  net::io_context io;
  Slots slots(io.get_executor(), 2);
  std::vector<std::string> order;
  auto take = [&](std::string name, bool keep) -> net::awaitable<void> {
    const auto ec = co_await slots.acquire();
    // Appended piece by piece: GCC 12's -Wrestrict misfires on `a + (c ? ":" + b : "")`.
    if (ec) name.append(":").append(ec.message());
    order.push_back(std::move(name));
    if (!keep) slots.release();
  };
  net::co_spawn(io, take("a", true), net::detached);
  net::co_spawn(io, take("b", true), net::detached);
  net::co_spawn(io, take("c", false), net::detached);
  net::co_spawn(io, take("d", false), net::detached);
  io.run_for(50ms);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(slots.in_use(), 2u);
  EXPECT_EQ(slots.waiting(), 2u);
  slots.release();  // a's slot: to c, which gives it back, so d gets it too
  io.restart();
  io.run_for(50ms);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(slots.in_use(), 1u);  // b's
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(Slots, WaiterPastItsDeadlineTimesOutAndLeavesTheQueue) {
  net::io_context io;
  Slots slots(io.get_executor(), 1);
  error_code first{}, late{};
  bool late_done = false;
  net::co_spawn(io, [&]() -> net::awaitable<void> { first = co_await slots.acquire(); }, net::detached);
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        late = co_await slots.acquire(Clock::now() + 20ms);
        late_done = true;
      },
      net::detached);
  io.run_for(200ms);
  EXPECT_FALSE(first);
  ASSERT_TRUE(late_done);
  EXPECT_EQ(late, boost::system::errc::timed_out);
  EXPECT_EQ(slots.waiting(), 0u);
  slots.release();
  EXPECT_EQ(slots.in_use(), 0u);
}

namespace {

struct ScriptedTries {
  std::vector<bool> stale;  // per try
  std::vector<bool> fresh_only_seen;
  net::awaitable<Attempt<int>> operator()(bool fresh_only) {
    fresh_only_seen.push_back(fresh_only);
    const int n = static_cast<int>(fresh_only_seen.size());
    co_return Attempt<int>{n, stale[static_cast<std::size_t>(n - 1)]};
  }
};

int run_rule(ScriptedTries& tries, Clock::time_point deadline, int& retries) {
  net::io_context io;
  int result = 0;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        result = co_await retry_once_if_stale<int>(
            deadline, [&](bool fresh_only) { return tries(fresh_only); }, [&] { ++retries; });
      },
      net::detached);
  io.run();
  return result;
}

}  // namespace

TEST(StaleRetry, StaleReusedConnectionIsReplacedByAFreshOneOnce) {
  ScriptedTries tries{{true, true}, {}};
  int retries = 0;
  EXPECT_EQ(run_rule(tries, Clock::now() + 1s, retries), 2);
  EXPECT_EQ(tries.fresh_only_seen, (std::vector<bool>{false, true}));  // never a third try
  EXPECT_EQ(retries, 1);
}

TEST(StaleRetry, AnswerOrPassedDeadlineIsFinal) {
  ScriptedTries answered{{false}, {}};
  int retries = 0;
  EXPECT_EQ(run_rule(answered, Clock::now() + 1s, retries), 1);
  ScriptedTries late{{true}, {}};
  EXPECT_EQ(run_rule(late, Clock::now() - 1ms, retries), 1);
  EXPECT_EQ(retries, 0);
}
