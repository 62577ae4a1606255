// HttpChecker against real HTTP servers on loopback (tests/integration/probes_server.hpp):
// status codes, timeouts, refused connections, keep-alive reuse and its stale
// connections, the in-flight bound and the body cap.
#include "clients/http/checker.hpp"

#include "tests/integration/probes_server.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/process.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::probes::Reply;
using testing::probes::run;
using testing::probes::run_until;
using testing::probes::Seen;
using testing::probes::Server;
using testing::probes::sleep_for;

Reply ok_reply(const Seen&) { return Reply{}; }

ProbeOutcome check(net::io_context& ctx, HttpChecker& checker, const std::string& url,
                   std::chrono::milliseconds timeout = 5000ms) {
  return run(ctx, checker.check(url, timeout));
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

TEST(ProbesHttp, Status200IsAlive) {
  net::io_context ctx;
  Server server(ctx, ok_reply);
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url("/health?x=1"));
  EXPECT_TRUE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 200);
  EXPECT_EQ(outcome.detail, "HTTP 200");
  EXPECT_GT(outcome.elapsed.count(), 0);
  ASSERT_EQ(server.requests(), 1u);
  EXPECT_EQ(server.seen()[0].method, "GET");
  EXPECT_EQ(server.seen()[0].target, "/health?x=1");
}

TEST(ProbesHttp, Status500IsDeadWithTheStatusInTheDetail) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.status = 500, .body = "boom"}; });
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url());
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 500);
  EXPECT_EQ(outcome.detail, "HTTP 500");
}

TEST(ProbesHttp, RedirectIsDeadAndNotFollowed) {
  net::io_context ctx;
  Server server(ctx, [](const Seen& s) {
    if (s.target == "/moved") return Reply{};
    return Reply{.status = 302, .body = "", .location = "/moved"};
  });
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url("/health"));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 302);
  EXPECT_EQ(outcome.detail, "HTTP 302 (redirects are not followed)");
  EXPECT_EQ(server.requests(), 1u);
}

TEST(ProbesHttp, InterimAnswersAreSkippedAndTheFinalOneJudgesOnAConnectionStillInStep) {
  // 103 Early Hints (any server may send it) and a 100, then the answer.
  net::io_context ctx;
  Server server(ctx, [](const Seen& s) {
    return Reply{.status = s.index_on_connection == 0 ? 200 : 503,
                 .interim = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                            "HTTP/1.1 100 Continue\r\n\r\n"};
  });
  HttpChecker checker(ctx.get_executor());
  const auto first = check(ctx, checker, server.url());
  EXPECT_TRUE(first.alive) << first.detail;
  EXPECT_EQ(first.http_status, 200);
  EXPECT_EQ(first.detail, "HTTP 200");
  // The second check on the same connection reads its own answer, not a leftover.
  const auto second = check(ctx, checker, server.url());
  EXPECT_FALSE(second.alive);
  EXPECT_EQ(second.http_status, 503) << second.detail;
  EXPECT_EQ(checker.connections_opened(), 1u);
}

TEST(ProbesHttp, AStatusOutsideTheHttpRangeIsNoAnswerAndTheConnectionIsNotKept) {
  // Found by fuzz_http_response: Beast takes any three digits.
  net::io_context ctx;
  Server server(ctx, [](const Seen&) {
    return Reply{.raw = "HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok"};
  });
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url());
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.detail, "receive: 0 is not an HTTP status");
  EXPECT_EQ(checker.stats().idle, 0u);
}

TEST(ProbesHttp, EndlessInterimAnswersAreDeadNotALoop) {
  net::io_context ctx;
  std::string many;
  for (int i = 0; i < 20; ++i) many += "HTTP/1.1 103 Early Hints\r\n\r\n";
  Server server(ctx, [many](const Seen&) { return Reply{.interim = many}; });
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url());
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "receive: more than 8 interim (1xx) answers");
  EXPECT_EQ(checker.stats().idle, 0u);
}

TEST(ProbesHttp, ServerThatNeverAnswersTimesOutWithinTheBound) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.never_answer = true}; });
  HttpChecker checker(ctx.get_executor());
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = check(ctx, checker, server.url(), 300ms);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.detail, "timeout after 300 ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, healthsweep::testing::hang_bound);
  EXPECT_EQ(server.requests(), 1u);
}

TEST(ProbesHttp, ConnectionRefusedIsDead) {
  net::io_context ctx;
  HttpChecker checker(ctx.get_executor());
  const testing::ClosedPort closed;  // nothing listens there
  const int port = closed.port();
  const auto outcome = check(ctx, checker, "http://127.0.0.1:" + std::to_string(port) + "/health");
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.detail, "connect: Connection refused");
}

TEST(ProbesHttp, UrlThatIsNotHttpIsDeadWithAClearDetail) {
  net::io_context ctx;
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, "ftp://127.0.0.1/health");
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "url: scheme 'ftp' is not http or https");
  EXPECT_EQ(checker.connections_opened(), 0u);
}

TEST(ProbesHttp, LocalhostIsResolved) {
  net::io_context ctx;
  Server server(ctx, ok_reply);
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, "http://localhost:" + std::to_string(server.port()) + "/h");
  EXPECT_TRUE(outcome.alive) << outcome.detail;
}

TEST(ProbesHttp, HundredChecksShareOneKeepAliveConnection) {
  net::io_context ctx;
  Server server(ctx, ok_reply);
  HttpChecker checker(ctx.get_executor());
  int alive = 0;
  for (int i = 0; i < 100; ++i) alive += check(ctx, checker, server.url()).alive ? 1 : 0;
  EXPECT_EQ(alive, 100);
  EXPECT_EQ(checker.connections_opened(), 1u);
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_EQ(server.requests(), 100u);
  EXPECT_EQ(checker.stats().idle, 1u);
}

TEST(ProbesHttp, ServerClosingAnIdleConnectionIsNoFalseDead) {
  net::io_context ctx;
  Server server(ctx, ok_reply, nullptr, /*idle_timeout=*/100ms);
  HttpChecker checker(ctx.get_executor());
  EXPECT_TRUE(check(ctx, checker, server.url()).alive);
  run(ctx, [&]() -> net::awaitable<int> {
    co_await sleep_for(400ms);  // the server closes the pooled connection meanwhile
    co_return 0;
  }());
  const auto second = check(ctx, checker, server.url());
  EXPECT_TRUE(second.alive) << second.detail;
  EXPECT_EQ(server.accepted(), 2u);
  EXPECT_EQ(checker.connections_opened(), 2u);
  EXPECT_EQ(checker.stats().stale_replaced, 1u);
}

TEST(ProbesHttp, ConnectionClosedAsTheRequestArrivesIsRetriedOnAFreshOne) {
  // The race a peek cannot see: the server drops the pooled connection just
  // as our request reaches it. Not the target's answer: one retry, fresh.
  net::io_context ctx;
  Server server(ctx, [](const Seen& s) { return Reply{.drop_without_answer = s.index_on_connection > 0}; });
  HttpChecker checker(ctx.get_executor());
  EXPECT_TRUE(check(ctx, checker, server.url()).alive);
  const auto second = check(ctx, checker, server.url());
  EXPECT_TRUE(second.alive) << second.detail;
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_EQ(server.accepted(), 2u);
  EXPECT_EQ(checker.stats().stale_replaced, 1u);
}

TEST(ProbesHttp, FreshConnectionClosedWithoutAnswerIsDeadAndNotRetried) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.drop_without_answer = true}; });
  HttpChecker checker(ctx.get_executor());
  const auto outcome = check(ctx, checker, server.url());
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "receive: end of stream");
  EXPECT_EQ(server.requests(), 1u);
}

TEST(ProbesHttp, ConnectionCloseFromTheServerIsHonoured) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.close_after = true}; });
  HttpChecker checker(ctx.get_executor());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(check(ctx, checker, server.url()).alive);
  EXPECT_EQ(server.accepted(), 3u);
  EXPECT_EQ(checker.stats().idle, 0u);
  EXPECT_EQ(checker.stats().stale_replaced, 0u);
}

TEST(ProbesHttp, ThousandConcurrentChecksNeverOpenMoreThanMaxInFlightSockets) {
  net::io_context ctx;
  // A little delay per answer so that checks really overlap.
  Server server(ctx, [](const Seen&) { return Reply{.delay = 5ms}; });
  HttpChecker checker(ctx.get_executor(), 64);
  int done = 0, alive = 0;
  for (int i = 0; i < 1000; ++i)
    net::co_spawn(ctx, checker.check(server.url("/h/" + std::to_string(i)), 10s),
                  [&](std::exception_ptr e, ProbeOutcome o) {
                    ++done;
                    alive += (!e && o.alive) ? 1 : 0;
                  });
  ASSERT_TRUE(run_until(ctx, [&] { return done == 1000; }, 120s));
  EXPECT_EQ(alive, 1000);
  EXPECT_EQ(server.requests(), 1000u);
  EXPECT_LE(server.max_open(), 64u);
  EXPECT_GE(server.max_open(), 32u);  // the bound was reached for, not serialised
  EXPECT_LE(checker.connections_opened(), 64u);
  EXPECT_EQ(checker.stats().in_flight, 0u);
  EXPECT_EQ(checker.stats().waiting, 0u);
}

TEST(ProbesHttp, CallerCancellingACheckThatWaitsForASlotLeavesNoTrace) {
  // A caller may bound a check by its own deadline (awaitable operator ||):
  // a check cancelled while queued for a slot leaves the queue, and the
  // slot bookkeeping stays right for the checks after it.
  using namespace net::experimental::awaitable_operators;
  net::io_context ctx;
  Server server(ctx, [](const Seen& s) { return Reply{.never_answer = s.target == "/stuck"}; });
  HttpChecker checker(ctx.get_executor(), 1);
  std::optional<ProbeOutcome> stuck;
  net::co_spawn(ctx, checker.check(server.url("/stuck"), 1500ms),
                [&](std::exception_ptr, ProbeOutcome o) { stuck = o; });
  const auto raced = run(ctx, [&]() -> net::awaitable<bool> {
    net::steady_timer give_up(co_await net::this_coro::executor, 100ms);
    auto winner = co_await (checker.check(server.url("/health"), 5s) ||
                            give_up.async_wait(net::use_awaitable));
    co_return winner.index() == 1;
  }());
  EXPECT_TRUE(raced) << "the queued check should still have been waiting for the only slot";
  EXPECT_EQ(checker.stats().waiting, 0u);
  EXPECT_EQ(checker.stats().in_flight, 1u);
  ASSERT_TRUE(run_until(ctx, [&] { return stuck.has_value(); }, 10s));
  EXPECT_EQ(stuck->detail, "timeout after 1500 ms");
  EXPECT_EQ(checker.stats().in_flight, 0u);
  const auto after = check(ctx, checker, server.url("/health"));
  EXPECT_TRUE(after.alive) << after.detail;
}

TEST(ProbesHttp, HugeBodyIsCutShortAndTheStatusIsTheAnswer) {
  net::io_context ctx;
  constexpr std::size_t huge = 64u * 1024 * 1024;
  Server server(ctx, [](const Seen& s) {
    return Reply{.status = s.target == "/sick" ? 503 : 200, .huge_body_bytes = huge};
  });
  HttpChecker checker(ctx.get_executor());
  const std::size_t rss_before = resident_bytes();
  const auto outcome = check(ctx, checker, server.url("/health"));
  const auto sick = check(ctx, checker, server.url("/sick"));
  const std::size_t rss_after = resident_bytes();
  EXPECT_TRUE(outcome.alive);
  EXPECT_EQ(outcome.detail, "HTTP 200");
  EXPECT_FALSE(sick.alive);
  EXPECT_EQ(sick.detail, "HTTP 503");
  // The client stopped reading after its cap and dropped the connection.
  EXPECT_LT(server.huge_bytes_written(), huge);
  EXPECT_EQ(checker.connections_opened(), 2u);
  EXPECT_EQ(checker.stats().idle, 0u);
#ifndef HS_SANITIZED
  EXPECT_LT(rss_after, rss_before + 16u * 1024 * 1024) << "the body was buffered";
#else
  // Not under ASan (scripts/test --sanitize): its shadow memory and the
  // quarantine that keeps freed buffers resident grow RSS with every byte
  // read, so a bound on it measures the sanitizer, not a buffered body. The
  // bytes-written check above still proves the client stopped reading.
  (void)rss_before;
  (void)rss_after;
#endif
}

TEST(ProbesHttp, DestroyingTheCheckerClosesItsIdleConnections) {
  // Idle connections and the pool's idle timer go with the checker.
  net::io_context ctx;
  Server server(ctx, ok_reply);
  {
    HttpChecker checker(ctx.get_executor());
    EXPECT_TRUE(check(ctx, checker, server.url()).alive);
    EXPECT_EQ(checker.stats().idle, 1u);
  }
  EXPECT_TRUE(run_until(ctx, [&] { return server.open_now() == 0; }, 5s));
}

}  // namespace
}  // namespace healthsweep::sweeps
