// A thin Redis client: one hiredis (0.14) async connection driven by the Asio
// loop through an adapter on a posix::stream_descriptor (link.hpp). No
// blocking calls on the loop: a host name in the URL is resolved first with
// clients::net::resolve (Asio's resolver, bounded by connect_timeout; IPv4
// preferred, as hiredis does), and hiredis is handed the IP address, so its
// own getaddrinfo never waits for DNS. Knows nothing about targets or heartbeats.
//
// Replies on one connection come in the order the commands were sent, so
// pipelining is just calling send() many times before the replies arrive.
// A command that gets no reply within its timeout breaks the whole connection
// (hiredis cannot cancel one command and keep the order); every pending
// handler then completes with the error, and the close handler is told.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::clients::redis {

// Where and how to connect, from a URL:
//   redis://[[user]:password@]host[:port][/db]      (TCP; host may be [::1])
//   unix:///path/to/redis.sock[?db=N][&password=P][&user=U]
struct RedisEndpoint {
  std::string host;        // TCP; empty when unix_path is set
  std::uint16_t port = 6379;
  std::string unix_path;   // unix socket; empty for TCP
  std::string username;    // Redis 6 ACL user; empty: AUTH <password>
  std::string password;    // empty: no AUTH
  int db = 0;

  // "127.0.0.1:6379/0" or "unix:/run/redis.sock/0", never the password.
  std::string describe() const;
};

struct RedisUrlResult {
  std::optional<RedisEndpoint> endpoint;
  std::string error;  // set when endpoint is empty
};
RedisUrlResult parse_redis_url(std::string_view url);

// Escapes Redis glob metacharacters (* ? [ ] \) so `text` matches literally
// in SCAN MATCH and PSUBSCRIBE patterns.
std::string redis_glob_escape(std::string_view text);

// One reply, owned (converted from hiredis' redisReply).
struct RedisReply {
  enum class Type { nil, status, error, integer, string, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // status, error and string replies
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
};

// ec set: no reply came (connection lost, closed, timed out); otherwise reply
// holds what Redis said, error replies included.
struct RedisResult {
  boost::system::error_code ec;
  RedisReply reply;
};

class RedisConnection {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{2000};  // connect + AUTH + SELECT + PING
    std::chrono::milliseconds command_timeout{5000};
  };
  using ReplyHandler = std::function<void(boost::system::error_code, const RedisReply&)>;
  // channel and payload of a pub/sub message (for PSUBSCRIBE: the matched channel)
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;
  using CloseHandler = std::function<void(boost::system::error_code)>;

  RedisConnection(boost::asio::any_io_executor ex, RedisEndpoint endpoint, Options options);
  RedisConnection(boost::asio::any_io_executor ex, RedisEndpoint endpoint);
  // Closes; pending handlers complete (later, on the loop) with operation_aborted.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects, sends AUTH and SELECT from the endpoint and a PING, and returns
  // once the PING is answered (or with the error: timed_out, eof,
  // connection_refused, access_denied for a refused AUTH, ...; last_error()
  // has the words). May be called again after the connection was lost.
  boost::asio::awaitable<boost::system::error_code> connect();
  bool connected() const;
  // What went wrong last, for log lines ("Connection refused", "-NOAUTH ...").
  std::string last_error() const;
  const RedisEndpoint& endpoint() const { return endpoint_; }

  // Called (on the loop, once per connection) when an established connection
  // is lost or broken by a timeout; not when close() was called.
  void set_close_handler(CloseHandler handler);

  // Queues one command (pipelined). The handler runs on the loop: directly
  // from the read handler for a reply, posted for an error. Returns false
  // (and posts the handler with not_connected) when not connected.
  bool send(std::span<const std::string_view> args, ReplyHandler handler);
  bool send(std::initializer_list<std::string_view> args, ReplyHandler handler);
  // One command, awaited.
  boost::asio::awaitable<RedisResult> command(std::vector<std::string> args);
  // Commands whose replies have not come yet.
  std::size_t pending() const;

  // Pub/sub: SUBSCRIBE / PSUBSCRIBE, awaiting Redis' confirmation. After the
  // first one the connection only takes more subscriptions (hiredis 0.14
  // cannot route other replies in subscribed mode), so use a connection of
  // its own. Messages of every subscription go to `on_message`.
  boost::asio::awaitable<boost::system::error_code> subscribe(std::string channel);
  boost::asio::awaitable<boost::system::error_code> psubscribe(std::string pattern);
  // One SUBSCRIBE of many channels (one round trip), done when Redis has
  // confirmed each. A refusal (ACL) is access_denied, and it also ends the
  // connection without calling the close handler: hiredis 0.14 drops a
  // subscribed connection on any error reply.
  boost::asio::awaitable<boost::system::error_code> subscribe(std::vector<std::string> channels);
  // UNSUBSCRIBE of many channels, not awaited: hiredis 0.14 routes each
  // confirmation by channel name and forgets the channel when it comes, so a
  // channel subscribed again before that would lose its messages. A caller
  // that may subscribe a channel again awaits a subscribe() sent after the
  // UNSUBSCRIBE first (replies come in order). False when not subscribed.
  bool unsubscribe(const std::vector<std::string>& channels);
  void set_message_handler(MessageHandler handler);

  void close();

  struct Link;  // one hiredis context and its descriptor (clients/redis/link.hpp)

 private:
  boost::asio::awaitable<boost::system::error_code> subscribe_command(std::string verb,
                                                                      std::vector<std::string> names);
  boost::asio::any_io_executor ex_;
  RedisEndpoint endpoint_;
  Options options_;
  CloseHandler on_close_;
  MessageHandler on_message_;
  std::shared_ptr<Link> link_;
  std::string last_error_;
};

}  // namespace healthsweep::clients::redis
