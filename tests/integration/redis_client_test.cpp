// The hiredis-on-Asio client against a real redis-server.
#include "clients/redis/client.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::redis;
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using testing::RedisServer;

// Runs one coroutine to completion on `ioc` (or gives up after `limit`).
template <class T>
std::optional<T> run_co(net::io_context& ioc, net::awaitable<T> aw, std::chrono::milliseconds limit = 15s) {
  std::optional<T> out;
  net::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!out && std::chrono::steady_clock::now() < end) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  return out;
}

void run_until(net::io_context& ioc, const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < end) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
}

RedisEndpoint endpoint(const std::string& url) {
  auto r = parse_redis_url(url);
  EXPECT_TRUE(r.endpoint) << r.error;
  return *r.endpoint;
}

RedisResult command(net::io_context& ioc, RedisConnection& c, std::vector<std::string> args) {
  return run_co(ioc, c.command(std::move(args))).value_or(RedisResult{net::error::timed_out, {}});
}

TEST(RedisClient, AHostNameIsResolvedOffTheLoopAndConnects) {
  // localhost comes from /etc/hosts: no DNS traffic. The name is resolved by
  // Asio (not by hiredis on the loop); the endpoint still says the name.
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint("redis://localhost:" + std::to_string(redis->port()) + "/1"));
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{}) << c.last_error();
  EXPECT_EQ(command(ioc, c, {"PING"}).reply.str, "PONG");
  EXPECT_EQ(c.endpoint().describe(), "localhost:" + std::to_string(redis->port()) + "/1");
}

TEST(RedisClient, ConnectsOverTcpSelectsTheDbAndRunsCommands) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint(redis->url(2)));
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{}) << c.last_error();
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(command(ioc, c, {"SET", "k", "v", "PX", "60000"}).reply.str, "OK");
  const auto pttl = command(ioc, c, {"PTTL", "k"});
  EXPECT_EQ(pttl.reply.type, RedisReply::Type::integer);
  EXPECT_GT(pttl.reply.integer, 50000);
  const auto missing = command(ioc, c, {"GET", "nope"});
  EXPECT_EQ(missing.reply.type, RedisReply::Type::nil);
  const auto wrong = command(ioc, c, {"INCR", "k"});
  EXPECT_TRUE(wrong.reply.is_error()) << "error replies are replies, not transport errors";
  EXPECT_FALSE(wrong.ec);

  auto check = redis->client();
  EXPECT_EQ(check->run({"GET", "k"}), "(nil)") << "db 0 untouched";
  check->run({"SELECT", "2"});
  EXPECT_EQ(check->run({"GET", "k"}), "v");
}

TEST(RedisClient, ConnectsOverAUnixSocket) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint(redis->unix_url(1)));
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{}) << c.last_error();
  EXPECT_EQ(command(ioc, c, {"SET", "u", "1"}).reply.str, "OK");
  auto check = redis->client();
  check->run({"SELECT", "1"});
  EXPECT_EQ(check->run({"GET", "u"}), "1");
}

TEST(RedisClient, AuthenticatesWithThePasswordFromTheUrl) {
  HS_REQUIRE_REDIS(redis, RedisServer::Options{{"requirepass s3cret"}});
  net::io_context ioc;
  const auto port = std::to_string(redis->port());
  RedisConnection good(ioc.get_executor(), endpoint("redis://:s3cret@127.0.0.1:" + port + "/0"));
  EXPECT_EQ(run_co(ioc, good.connect()), error_code{}) << good.last_error();

  RedisConnection wrong(ioc.get_executor(), endpoint("redis://:nope@127.0.0.1:" + port + "/0"));
  EXPECT_EQ(run_co(ioc, wrong.connect()), error_code(net::error::access_denied));
  EXPECT_NE(wrong.last_error().find("AUTH"), std::string::npos) << wrong.last_error();
  EXPECT_FALSE(wrong.connected());

  RedisConnection none(ioc.get_executor(), endpoint(redis->url()));
  EXPECT_EQ(run_co(ioc, none.connect()), error_code(net::error::access_denied));
  EXPECT_NE(none.last_error().find("NOAUTH"), std::string::npos) << none.last_error();
}

TEST(RedisClient, RefusedConnectionIsAnError) {
  net::io_context ioc;
  const testing::ClosedPort closed;
  RedisConnection c(ioc.get_executor(), endpoint("redis://127.0.0.1:" + std::to_string(closed.port())));
  const auto ec = run_co(ioc, c.connect());
  ASSERT_TRUE(ec);
  EXPECT_EQ(*ec, error_code(net::error::connection_refused)) << ec->message() << ": " << c.last_error();
  EXPECT_FALSE(c.connected());
}

TEST(RedisClient, PipelinedRepliesComeBackInOrder) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint(redis->url()));
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{});
  constexpr int n = 20000;
  std::vector<long long> got;
  for (int i = 0; i < n; ++i)
    c.send({"INCR", "counter"}, [&](error_code ec, const RedisReply& r) { got.push_back(ec ? -1 : r.integer); });
  EXPECT_GT(c.pending(), 0u);
  run_until(ioc, [&] { return got.size() == n; }, 20s);
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], i + 1);
  EXPECT_EQ(c.pending(), 0u);
}

TEST(RedisClient, SilentServerTimesOutConnectAndCommands) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint(redis->url()), {500ms, 500ms});
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{});
  std::optional<error_code> closed;
  c.set_close_handler([&](error_code ec) { closed = ec; });

  redis->pause();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = command(ioc, c, {"PING"});
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.ec, error_code(net::error::timed_out));
  EXPECT_GE(waited, 450ms);
  EXPECT_LT(waited, healthsweep::testing::hang_bound);
  run_until(ioc, [&] { return closed.has_value(); }, 2s);
  EXPECT_EQ(closed, error_code(net::error::timed_out)) << "a late reply would break the order: the link is dropped";
  EXPECT_FALSE(c.connected());

  RedisConnection fresh(ioc.get_executor(), endpoint(redis->url()), {500ms, 500ms});
  EXPECT_EQ(run_co(ioc, fresh.connect()), error_code(net::error::timed_out));
  redis->resume();
}

TEST(RedisClient, KilledServerFailsPendingCommandsAndCallsTheCloseHandler) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection c(ioc.get_executor(), endpoint(redis->url()));
  ASSERT_EQ(run_co(ioc, c.connect()), error_code{});
  std::optional<error_code> closed;
  c.set_close_handler([&](error_code ec) { closed = ec; });
  redis->kill();
  std::optional<error_code> reply_ec;
  c.send({"PING"}, [&](error_code ec, const RedisReply&) { reply_ec = ec; });
  run_until(ioc, [&] { return closed && reply_ec; }, 5s);
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed);
  ASSERT_TRUE(reply_ec);
  EXPECT_TRUE(*reply_ec);
  EXPECT_FALSE(c.connected());

  ASSERT_TRUE(redis->restart());
  EXPECT_EQ(run_co(ioc, c.connect()), error_code{}) << "the same object reconnects";
  EXPECT_EQ(command(ioc, c, {"PING"}).reply.str, "PONG");
}

TEST(RedisClient, CloseCompletesPendingHandlersWithOperationAborted) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  auto c = std::make_unique<RedisConnection>(ioc.get_executor(), endpoint(redis->url()));
  ASSERT_EQ(run_co(ioc, c->connect()), error_code{});
  std::vector<error_code> results;
  for (int i = 0; i < 100; ++i)
    c->send({"PING"}, [&](error_code ec, const RedisReply&) { results.push_back(ec); });
  c.reset();  // destroyed with 100 commands in flight
  run_until(ioc, [&] { return results.size() == 100; }, 5s);
  ASSERT_EQ(results.size(), 100u) << "every handler runs exactly once";
  for (const auto& ec : results) EXPECT_EQ(ec, error_code(net::error::operation_aborted));
}

TEST(RedisClient, PubSubDeliversPatternAndChannelMessages) {
  HS_REQUIRE_REDIS(redis);
  net::io_context ioc;
  RedisConnection sub(ioc.get_executor(), endpoint(redis->url()));
  std::vector<std::pair<std::string, std::string>> messages;
  sub.set_message_handler([&](std::string_view ch, std::string_view payload) {
    messages.emplace_back(std::string(ch), std::string(payload));
  });
  ASSERT_EQ(run_co(ioc, sub.connect()), error_code{});
  ASSERT_EQ(run_co(ioc, sub.psubscribe("news:*")), error_code{});
  ASSERT_EQ(run_co(ioc, sub.subscribe("direct")), error_code{});

  auto pub = redis->client();
  EXPECT_EQ(pub->integer({"PUBLISH", "news:today", "hello"}), 1);
  EXPECT_EQ(pub->integer({"PUBLISH", "direct", "hi"}), 1);
  EXPECT_EQ(pub->integer({"PUBLISH", "other", "x"}), 0);
  run_until(ioc, [&] { return messages.size() >= 2; }, 5s);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], std::make_pair(std::string("news:today"), std::string("hello")));
  EXPECT_EQ(messages[1], std::make_pair(std::string("direct"), std::string("hi")));

  const auto refused = command(ioc, sub, {"GET", "x"});
  EXPECT_EQ(refused.ec, error_code(net::error::operation_not_supported));
}

}  // namespace
}  // namespace healthsweep::sweeps
