// Replies a Redis server should never send, which hiredis 0.14 assert()s on
// (aborting the whole daemon) or reads past: found by fuzz_redis_reply, kept
// as seeds in tests/fuzz/corpus/fuzz_redis_reply/crash_*. RedisConnection
// screens the bytes before hiredis parses them (clients/redis/link.cpp) and
// closes the connection with a protocol error instead. Without that screen
// each of these tests dies in hiredis' assert() (or, for the unsubscribe,
// reads a third element that is not there). And what we do send and accept
// since the passive layer subscribes per key: SUBSCRIBE of many channels,
// UNSUBSCRIBE, and a refused SUBSCRIBE.
#include "clients/redis/client.hpp"
#include "tests/support/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace healthsweep::clients::redis {
namespace {

namespace net = boost::asio;
using local = net::local::stream_protocol;
using boost::system::error_code;
using namespace std::chrono_literals;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

const error_code kProtocolError = make_error_code(boost::system::errc::protocol_error);

// One connection; each command (parsed with hiredis' reader, as a server
// would) is answered with the bytes scripted for its verb; push() writes
// bytes nobody asked for (running the loop until they are written).
class ScriptedRedis {
 public:
  ScriptedRedis(net::io_context& ioc, std::string path, std::map<std::string, std::string> script)
      : ioc_(ioc), acceptor_(ioc, local::endpoint(path)), script_(std::move(script)) {
    net::co_spawn(ioc, serve(), net::detached);
  }
  void push(const std::string& bytes) {
    bool written = false;
    net::async_write(*conn_, net::buffer(bytes), [&](error_code, std::size_t) { written = true; });
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!written && std::chrono::steady_clock::now() < end) ioc_.run_one_for(10ms);
    ASSERT_TRUE(written);
  }

 private:
  net::awaitable<void> serve() {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (ec) co_return;
    conn_ = std::make_shared<local::socket>(std::move(socket));
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
    char buf[4096];
    for (;;) {
      auto [rec, n] = co_await conn_->async_read_some(net::buffer(buf), nothrow);
      if (rec) co_return;
      redisReaderFeed(reader.get(), buf, n);
      void* command = nullptr;
      while (redisReaderGetReply(reader.get(), &command) == REDIS_OK && command) {
        const auto* c = static_cast<redisReply*>(command);
        const std::string verb(c->element[0]->str, c->element[0]->len);
        freeReplyObject(command);
        auto [wec, w] = co_await net::async_write(*conn_, net::buffer(script_.at(verb)), nothrow);
        if (wec) co_return;
      }
    }
  }

  net::io_context& ioc_;
  local::acceptor acceptor_;
  std::map<std::string, std::string> script_;
  std::shared_ptr<local::socket> conn_;
};

template <class T>
std::optional<T> run_co(net::io_context& ioc, net::awaitable<T> aw) {
  std::optional<T> out;
  net::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  // Loose: only catches a hang (the client's own timeouts are 2 s).
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (!out && std::chrono::steady_clock::now() < end) ioc.run_one_for(10ms);
  return out;
}

struct RedisHostileServer : ::testing::Test {
  net::io_context ioc;
  healthsweep::testing::TempDir dir;
  std::optional<ScriptedRedis> server;
  std::optional<RedisConnection> conn;
  std::optional<error_code> closed;

  void start(std::map<std::string, std::string> script) {
    server.emplace(ioc, dir.file("redis.sock"), std::move(script));
    RedisEndpoint ep;
    ep.unix_path = dir.file("redis.sock");
    conn.emplace(ioc.get_executor(), ep);
    conn->set_close_handler([this](error_code ec) { closed = ec; });
  }
  void connect_and_subscribe(const std::string& confirmation) {
    start({{"PING", "+PONG\r\n"}, {"SUBSCRIBE", confirmation}});
    ASSERT_EQ(run_co(ioc, conn->connect()), error_code{}) << conn->last_error();
    ASSERT_EQ(run_co(ioc, conn->subscribe("probe")), error_code{}) << conn->last_error();
  }
  // Runs the loop until `done` holds (loosely bounded: only catches a hang).
  template <class Pred>
  void run_until(Pred done) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!done() && std::chrono::steady_clock::now() < end) ioc.run_one_for(10ms);
  }
  // The connection closes itself with a protocol error.
  void expect_closed_by_protocol_error() {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!closed && std::chrono::steady_clock::now() < end) ioc.run_one_for(10ms);
    ASSERT_TRUE(closed.has_value()) << "the connection stayed open";
    EXPECT_EQ(*closed, kProtocolError) << closed->message();
    EXPECT_NE(conn->last_error().find("protocol error"), std::string::npos) << conn->last_error();
    EXPECT_FALSE(conn->connected());
  }
};

constexpr const char* kSubscribed = "*3\r\n$9\r\nsubscribe\r\n$5\r\nprobe\r\n:1\r\n";

TEST_F(RedisHostileServer, AReplyToNoCommandFailsTheConnectInsteadOfAborting) {
  start({{"PING", "+PONG\r\n+PONG\r\n"}});  // crash_reply_to_no_command
  EXPECT_EQ(run_co(ioc, conn->connect()), kProtocolError);
  EXPECT_NE(conn->last_error().find("a reply to no command"), std::string::npos) << conn->last_error();
}

TEST_F(RedisHostileServer, AReplyToNoCommandClosesAnEstablishedConnection) {
  start({{"PING", "+PONG\r\n"}, {"GET", "$-1\r\n:1\r\n"}});
  ASSERT_EQ(run_co(ioc, conn->connect()), error_code{}) << conn->last_error();
  const auto got = run_co(ioc, conn->command({"GET", "k"}));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ec, kProtocolError);
  expect_closed_by_protocol_error();
}

TEST_F(RedisHostileServer, ASubscribeConfirmationWhoseChannelIsNotTextFailsTheSubscription) {
  // crash_subscribe_channel_not_string: the channel is an integer.
  start({{"PING", "+PONG\r\n"}, {"SUBSCRIBE", "*3\r\n$9\r\nsubscribe\r\n:7\r\n:1\r\n"}});
  ASSERT_EQ(run_co(ioc, conn->connect()), error_code{}) << conn->last_error();
  EXPECT_EQ(run_co(ioc, conn->subscribe("probe")), kProtocolError);
  expect_closed_by_protocol_error();
}

TEST_F(RedisHostileServer, AMessageWithoutAChannelClosesTheSubscription) {
  connect_and_subscribe(kSubscribed);
  server->push("*1\r\n$7\r\nmessage\r\n");
  expect_closed_by_protocol_error();
}

TEST_F(RedisHostileServer, AMessageWhoseKindIsNotTextClosesTheSubscription) {
  connect_and_subscribe(kSubscribed);
  server->push("*3\r\n:1\r\n$5\r\nprobe\r\n$1\r\nx\r\n");
  expect_closed_by_protocol_error();
}

TEST_F(RedisHostileServer, AnUnsubscribeNobodyAskedForClosesTheSubscription) {
  // Two elements: hiredis would read the missing third (the count) unchecked.
  // Its kind compared as hiredis does: case-insensitively, after a 'p'.
  connect_and_subscribe(kSubscribed);
  server->push("*2\r\n$11\r\nUnSubscribe\r\n$5\r\nprobe\r\n");
  expect_closed_by_protocol_error();
}

TEST_F(RedisHostileServer, AnUnsubscribeOfTheLastSubscriptionClosesTheSubscription) {
  // A count of 0 would end hiredis' subscribed mode; the next message would
  // then abort it. We never unsubscribe the last channel, so it is refused.
  connect_and_subscribe(kSubscribed);
  server->push("*3\r\n$11\r\nunsubscribe\r\n$5\r\nprobe\r\n:0\r\n");
  expect_closed_by_protocol_error();
}

constexpr const char* kTwoSubscribed =
    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n";

TEST_F(RedisHostileServer, ASubscribeOfManyChannelsAwaitsEveryConfirmationAndUnsubscribingOneKeepsTheOther) {
  start({{"PING", "+PONG\r\n"},
         {"SUBSCRIBE", kTwoSubscribed},
         {"UNSUBSCRIBE", "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"}});
  std::vector<std::string> got;
  conn->set_message_handler([&](std::string_view channel, std::string_view payload) {
    got.push_back(std::string(channel) + "=" + std::string(payload));
  });
  ASSERT_EQ(run_co(ioc, conn->connect()), error_code{}) << conn->last_error();
  std::vector<std::string> channels{"a", "b"};
  ASSERT_EQ(run_co(ioc, conn->subscribe(std::move(channels))), error_code{}) << conn->last_error();
  EXPECT_EQ(conn->pending(), 0u) << "one command, two confirmations";
  ASSERT_TRUE(conn->unsubscribe({"a"}));
  EXPECT_EQ(conn->pending(), 0u) << "an unsubscribe awaits nothing";
  ioc.poll();
  server->push("*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nhi\r\n");
  run_until([&] { return !got.empty(); });
  EXPECT_EQ(got, std::vector<std::string>{"b=hi"});
  EXPECT_TRUE(conn->connected());
  EXPECT_FALSE(closed.has_value());
}

TEST_F(RedisHostileServer, ARefusedSubscribeIsAccessDeniedAndClosesQuietly) {
  // ACL: -NOPERM. hiredis drops a subscribed connection on an error reply;
  // the subscription gets the refusal, the close handler is not called.
  start({{"PING", "+PONG\r\n"}, {"SUBSCRIBE", "-NOPERM this user has no permissions to access one of the channels\r\n"}});
  ASSERT_EQ(run_co(ioc, conn->connect()), error_code{}) << conn->last_error();
  std::vector<std::string> channels{"a", "b"};
  EXPECT_EQ(run_co(ioc, conn->subscribe(std::move(channels))), error_code(net::error::access_denied));
  EXPECT_NE(conn->last_error().find("SUBSCRIBE refused: NOPERM"), std::string::npos) << conn->last_error();
  ioc.poll();
  EXPECT_FALSE(conn->connected());
  EXPECT_FALSE(closed.has_value());
}

TEST_F(RedisHostileServer, MessagesOnAScreenedSubscriptionStillArrive) {
  std::vector<std::string> got;
  connect_and_subscribe(kSubscribed);
  conn->set_message_handler([&](std::string_view channel, std::string_view payload) {
    got.push_back(std::string(channel) + "=" + std::string(payload));
  });
  // One message split across two writes: the screen's reader keeps the
  // partial reply in step with hiredis' own.
  server->push("*3\r\n$7\r\nmessage\r\n$5\r\npro");
  ioc.poll();  // the client reads what is there
  server->push("be\r\n$2\r\nhi\r\n");
  run_until([&] { return !got.empty(); });
  EXPECT_EQ(got, std::vector<std::string>{"probe=hi"});
  EXPECT_TRUE(conn->connected());
  EXPECT_FALSE(closed.has_value());
}

}  // namespace
}  // namespace healthsweep::clients::redis
