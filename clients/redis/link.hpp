// Internal to the Redis client: the hiredis-to-Asio adapter. One Link is one
// hiredis 0.14 async context on the Asio loop. hiredis tells us through
// ac->ev when it wants to read or write; we wait for readiness on the socket
// with a posix::stream_descriptor (which never owns the fd: hiredis closes it)
// and call redisAsyncHandleRead/Write. Every command's handler lives in our
// own FIFO, matched to replies by order, so that closing, timeouts and
// connection loss can complete all of them exactly once, never re-entrantly.
// Not for other components: it brings in Asio's descriptor and timer.
#pragma once

#include "clients/redis/client.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>

struct redisAsyncContext;
struct redisReader;
struct redisReply;

namespace healthsweep::clients::redis {

namespace detail {

// An owned copy of a hiredis reply.
RedisReply convert(const redisReply* r);
// Element i of an array reply as text; empty when missing.
std::string_view element_str(const redisReply* r, std::size_t i);
// A hiredis error (type and text) as a code: eof, connection_refused,
// not_found (no such unix socket), otherwise connection_reset.
boost::system::error_code code_of(int err, const char* text);

// Why hiredis 0.14 must not see `reply`, or null when it may. hiredis
// assert()s (aborting the daemon) on replies a server should never send: a
// reply to no command on a connection that is not subscribed, and a pub/sub
// reply without a text kind and channel. An unsubscribe confirmation makes it
// read a third element it does not check for (the count: it must be there,
// an integer), and a count of 0 takes hiredis out of subscribed mode, where
// the next message would abort it: we never drop the last subscription (the
// passive layer's probe channel stays), so a count below 1 is refused too.
// `regular`: replies hiredis still awaits for ordinary commands, counted down.
const char* unacceptable(const redisReply* reply, std::size_t& regular, bool subscribed);

struct ReaderFree {
  void operator()(redisReader* r) const;
};

}  // namespace detail

struct RedisConnection::Link : std::enable_shared_from_this<Link> {
  using Clock = std::chrono::steady_clock;
  struct Pending {
    ReplyHandler handler;
    Clock::time_point deadline;
    // A SUBSCRIBE of n channels is answered by n confirmations; the handler
    // gets the last one.
    std::size_t confirmations = 1;
  };

  Link(boost::asio::any_io_executor executor, Options opts)
      : ex(executor), sd(executor), timer(executor), options(opts) {}

  boost::asio::any_io_executor ex;
  redisAsyncContext* ac = nullptr;  // null once hiredis freed it (or before open)
  boost::asio::posix::stream_descriptor sd;
  boost::asio::steady_timer timer;
  Options options;
  std::deque<Pending> pending;
  // A second reader over the same bytes as hiredis' own, to screen replies
  // before hiredis sees them (on_readable).
  std::unique_ptr<redisReader, detail::ReaderFree> screen;
  std::shared_ptr<Link> self;  // keeps us alive while hiredis holds pointers to us
  CloseHandler on_close;
  MessageHandler on_message;
  std::string last_error;
  // A subscription the server refused (an error reply in subscribed mode,
  // ACL's -NOPERM): hiredis 0.14 takes any error there for the server's
  // farewell and disconnects. The oldest pending subscription gets this
  // error as its reply, and the close handler is not called: the caller
  // learns it from the refusal and decides (the passive layer carries on
  // without notifications).
  std::string refusal;
  bool want_read = false, want_write = false, reading = false, writing = false;
  bool timer_armed = false, closed = false, established = false, subscribed = false;

  // Starts connecting to `ep` (host: an IP address, already resolved) and
  // hooks hiredis' events to the loop; an error when hiredis refused at once.
  boost::system::error_code open(const RedisEndpoint& ep);
  // hiredis wants to read or write: wait for readiness once (its hooks must
  // be idempotent), then let it do the I/O.
  void watch(boost::asio::posix::stream_descriptor::wait_type w);
  // The socket is readable: redisAsyncHandleRead, with the bytes read here
  // and screened (detail::unacceptable) before hiredis parses them; a reply
  // it would abort on closes the connection with a protocol error instead.
  void on_readable();
  // hiredis is freeing the context (connection lost, or our own close()).
  void on_cleanup();
  // Completes every pending handler with `ec` (posted: never inside the
  // caller's stack) and frees the hiredis context.
  void shutdown(boost::system::error_code ec, bool notify);
  static void on_reply(redisAsyncContext* c, void* r, void* privdata);
  static void on_pubsub(redisAsyncContext* c, void* r, void* privdata);
  // Queues one command; false (and the handler posted with an error) when
  // the link is closed, or subscribed and this is not a subscription.
  bool send(std::span<const std::string_view> args, ReplyHandler handler, std::chrono::milliseconds timeout,
            bool subscription = false);
  // UNSUBSCRIBE `args` (the verb first): no handler, nothing pending. hiredis
  // 0.14 keeps no callback for it and routes each confirmation by channel
  // name (dropping the channel from its table when it comes), so neither
  // can we wait for one; false when not subscribed or closed.
  bool send_unsubscribe(std::span<const std::string_view> args);
  // One timer per connection, armed for the oldest pending command only:
  // replies come in order, so the oldest is the first that can be late.
  void arm_timer();
};

}  // namespace healthsweep::clients::redis
