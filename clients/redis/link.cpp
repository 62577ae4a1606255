// The hiredis-to-Asio adapter (see link.hpp).
#include "clients/redis/link.hpp"

#include <boost/asio/post.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

// Exported by hiredis 0.14 (async.c) but not declared in its headers: what
// redisAsyncHandleRead runs once the bytes are in the reader.
extern "C" void redisProcessCallbacks(redisAsyncContext* ac);

namespace healthsweep::clients::redis {

namespace net = boost::asio;
using boost::system::error_code;
using detail::code_of;
using detail::convert;
using detail::element_str;

void detail::ReaderFree::operator()(redisReader* r) const { redisReaderFree(r); }

error_code RedisConnection::Link::open(const RedisEndpoint& ep) {
  ac = ep.unix_path.empty() ? redisAsyncConnect(ep.host.c_str(), ep.port)
                            : redisAsyncConnectUnix(ep.unix_path.c_str());
  if (!ac) {
    last_error = "cannot allocate a hiredis context";
    closed = true;
    return net::error::no_memory;
  }
  if (ac->err) {
    last_error = ac->errstr ? ac->errstr : "connect failed";
    const auto ec = code_of(ac->err, ac->errstr);
    redisAsyncFree(ac);
    ac = nullptr;
    closed = true;
    return ec;
  }
  error_code ec;
  sd.assign(ac->c.fd, ec);
  if (ec) {
    last_error = "cannot watch the socket: " + ec.message();
    redisAsyncFree(ac);
    ac = nullptr;
    closed = true;
    return ec;
  }
  self = shared_from_this();
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = [](void* p) { static_cast<Link*>(p)->watch(net::posix::stream_descriptor::wait_read); };
  ac->ev.delRead = [](void* p) { static_cast<Link*>(p)->want_read = false; };
  ac->ev.addWrite = [](void* p) { static_cast<Link*>(p)->watch(net::posix::stream_descriptor::wait_write); };
  ac->ev.delWrite = [](void* p) { static_cast<Link*>(p)->want_write = false; };
  ac->ev.cleanup = [](void* p) { static_cast<Link*>(p)->on_cleanup(); };
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    if (status != REDIS_OK && c->errstr) static_cast<Link*>(c->data)->last_error = c->errstr;
  });
  if (!ep.unix_path.empty()) return {};
  redisEnableKeepAlive(&ac->c);  // notices a silently dead peer on an idle pub/sub link
  return {};
}

void RedisConnection::Link::watch(net::posix::stream_descriptor::wait_type w) {
  const bool read = w == net::posix::stream_descriptor::wait_read;
  (read ? want_read : want_write) = true;
  bool& waiting = read ? reading : writing;
  if (waiting || !ac) return;
  waiting = true;
  sd.async_wait(w, [s = shared_from_this(), read](error_code ec) {
    (read ? s->reading : s->writing) = false;
    if (ec || !s->ac || !(read ? s->want_read : s->want_write)) return;
    if (read) s->on_readable();
    else redisAsyncHandleWrite(s->ac);
  });
}

void RedisConnection::Link::on_readable() {
  if (ac->c.err) {
    redisAsyncHandleRead(ac);  // hiredis' own error path: reads nothing, disconnects
    return;
  }
  if (!(ac->c.flags & REDIS_CONNECTED)) {
    // Still connecting: hiredis' write path completes the connect (and
    // sends what is queued), so that no reply is ever read past the screen.
    redisAsyncHandleWrite(ac);
    if (ac) watch(net::posix::stream_descriptor::wait_read);
    return;
  }
  char buf[16 * 1024];
  const auto n = ::recv(ac->c.fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    watch(net::posix::stream_descriptor::wait_read);
    return;
  }
  if (n < 0) {
    last_error = std::string("read: ") + std::strerror(errno);
    shutdown(error_code(errno, boost::system::system_category()), true);
    return;
  }
  if (n == 0) {
    redisAsyncHandleRead(ac);  // reads the end of stream again: hiredis' EOF path
    return;
  }
  if (!screen) screen.reset(redisReaderCreate());
  std::size_t regular = 0;
  for (const redisCallback* cb = ac->replies.head; cb; cb = cb->next) ++regular;
  const bool subscribed = ac->c.flags & REDIS_SUBSCRIBED;
  redisReaderFeed(screen.get(), buf, static_cast<std::size_t>(n));
  const char* bad = nullptr;
  void* reply = nullptr;
  while (!bad && redisReaderGetReply(screen.get(), &reply) == REDIS_OK && reply) {
    const auto* r = static_cast<const redisReply*>(reply);
    const bool awaited = regular > 0;
    bad = detail::unacceptable(r, regular, subscribed);
    // An error in subscribed mode that no regular command awaits: hiredis
    // disconnects on it. With a subscription pending, it is its refusal.
    if (!bad && !awaited && subscribed && r->type == REDIS_REPLY_ERROR && !pending.empty() && refusal.empty())
      refusal.assign(r->str, r->len);
    freeReplyObject(reply);
  }
  if (bad) {
    last_error = std::string("protocol error: the server sent ") + bad;
    shutdown(make_error_code(boost::system::errc::protocol_error), true);
    return;
  }
  // What redisAsyncHandleRead does after its own read. A protocol error of
  // the bytes themselves: hiredis' reader finds it and disconnects cleanly.
  if (redisReaderFeed(ac->c.reader, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
    redisAsyncHandleRead(ac);
    return;
  }
  watch(net::posix::stream_descriptor::wait_read);  // hiredis re-arms reads, then dispatches
  redisProcessCallbacks(ac);
}

void RedisConnection::Link::on_cleanup() {
  redisAsyncContext* gone = ac;
  ac = nullptr;
  want_read = want_write = false;
  if (sd.is_open()) sd.release();  // cancels our waits; hiredis closes the fd
  if (!closed) {
    const int err = gone ? gone->c.err : 0;
    const char* text = gone ? gone->c.errstr : nullptr;
    if (err && text && *text) last_error = text;
    else if (last_error.empty()) last_error = "connection closed by the server";
    shutdown(err ? code_of(err, text) : error_code(net::error::eof), refusal.empty());
  }
  net::post(ex, [s = std::move(self)] {});  // let go of ourselves after hiredis is done
}

void RedisConnection::Link::shutdown(error_code ec, bool notify) {
  if (closed) return;
  closed = true;
  auto failed = std::move(pending);
  pending.clear();
  timer.cancel();
  if (!refusal.empty() && !failed.empty()) {
    RedisReply refused;
    refused.type = RedisReply::Type::error;
    refused.str = refusal;
    net::post(ex, [h = std::move(failed.front().handler), r = std::move(refused)] { h({}, r); });
    failed.pop_front();
  }
  for (auto& p : failed)
    net::post(ex, [h = std::move(p.handler), ec] { h(ec, RedisReply{}); });
  if (notify && established && on_close) net::post(ex, [h = on_close, ec] { h(ec); });
  // on_close/on_message stay until we are destroyed: one of them may be
  // running right now (a message handler that closes its connection).
  if (ac) redisAsyncFree(ac);  // deferred by hiredis when inside one of its callbacks
}

void RedisConnection::Link::on_reply(redisAsyncContext* c, void* r, void* privdata) {
  auto* link = static_cast<Link*>(privdata);
  if (link->pending.empty()) return;  // already completed by shutdown()
  auto p = std::move(link->pending.front());
  link->pending.pop_front();
  if (!r) {
    if (c->c.err && c->c.errstr[0]) link->last_error = c->c.errstr;
    net::post(link->ex, [h = std::move(p.handler), ec = code_of(c->c.err, c->c.errstr)] {
      h(ec, RedisReply{});
    });
    return;
  }
  p.handler({}, convert(static_cast<redisReply*>(r)));
}

void RedisConnection::Link::on_pubsub(redisAsyncContext*, void* r, void* privdata) {
  auto* link = static_cast<Link*>(privdata);
  const auto* reply = static_cast<redisReply*>(r);
  if (link->closed || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  const auto kind = element_str(reply, 0);
  if (kind == "message" || kind == "pmessage") {
    const size_t at = kind == "message" ? 1 : 2;
    if (link->on_message) link->on_message(element_str(reply, at), element_str(reply, at + 1));
  } else if ((kind == "subscribe" || kind == "psubscribe") && !link->pending.empty()) {
    // In subscribed mode the only commands we await are subscriptions, so
    // the oldest pending entry is this confirmation's; it completes with
    // the confirmation of its last channel. (Unsubscribe confirmations come
    // here too, and are nobody's.)
    if (--link->pending.front().confirmations > 0) return;
    auto p = std::move(link->pending.front());
    link->pending.pop_front();
    p.handler({}, convert(reply));
  }
}

namespace {

// hiredis takes argv as two arrays; up to 8 arguments without allocating.
struct Argv {
  static constexpr std::size_t inline_args = 8;
  const char* argv_small[inline_args];
  size_t len_small[inline_args];
  std::vector<const char*> argv_big;
  std::vector<size_t> len_big;
  const char** argv = argv_small;
  size_t* lens = len_small;

  explicit Argv(std::span<const std::string_view> args) {
    if (args.size() > inline_args) {
      argv_big.resize(args.size());
      len_big.resize(args.size());
      argv = argv_big.data();
      lens = len_big.data();
    }
    for (size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      lens[i] = args[i].size();
    }
  }
};

}  // namespace

bool RedisConnection::Link::send_unsubscribe(std::span<const std::string_view> args) {
  if (closed || !ac || !subscribed || args.size() < 2) return false;
  const Argv a(args);
  return redisAsyncCommandArgv(ac, &Link::on_pubsub, this, static_cast<int>(args.size()), a.argv, a.lens) ==
         REDIS_OK;
}

bool RedisConnection::Link::send(std::span<const std::string_view> args, ReplyHandler handler,
                                 std::chrono::milliseconds timeout, bool subscription) {
  const bool refused = closed || !ac || (subscribed && !subscription);
  if (!refused) {
    const Argv a(args);
    const int rc = redisAsyncCommandArgv(ac, subscription ? &Link::on_pubsub : &Link::on_reply, this,
                                         static_cast<int>(args.size()), a.argv, a.lens);
    if (rc == REDIS_OK) {
      if (subscription) subscribed = true;
      const std::size_t confirmations = subscription ? std::max<std::size_t>(args.size(), 2) - 1 : 1;
      pending.push_back({std::move(handler), Clock::now() + timeout, confirmations});
      arm_timer();
      return true;
    }
  }
  const error_code ec = subscribed && !closed ? net::error::operation_not_supported
                                              : net::error::not_connected;
  net::post(ex, [h = std::move(handler), ec] { h(ec, RedisReply{}); });
  return false;
}

void RedisConnection::Link::arm_timer() {
  if (timer_armed || pending.empty() || closed) return;
  timer_armed = true;
  timer.expires_at(pending.front().deadline);
  timer.async_wait([s = shared_from_this()](error_code ec) {
    s->timer_armed = false;
    if (ec || s->closed || s->pending.empty()) return;
    if (s->pending.front().deadline <= Clock::now()) {
      s->last_error = "no reply within " + std::to_string(s->options.command_timeout.count()) + " ms";
      s->shutdown(net::error::timed_out, true);
      return;
    }
    s->arm_timer();
  });
}

}  // namespace healthsweep::clients::redis
