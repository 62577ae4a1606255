// hiredis 0.14 async context on the Asio loop. hiredis tells us through
// ac->ev when it wants to read or write; we wait for readiness on the socket
// with a posix::stream_descriptor (which never owns the fd: hiredis closes it)
// and call redisAsyncHandleRead/Write. Every command's handler lives in our
// own FIFO, matched to replies by order, so that closing, timeouts and
// connection loss can complete all of them exactly once, never re-entrantly.
#include "clients/redis/client.hpp"
#include "clients/net/resolver.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>
#include <deque>

namespace healthsweep::clients::redis {

using namespace healthsweep::clients::net;

namespace net = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; break;
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::array; break;
    default: out.type = RedisReply::Type::nil; break;
  }
  out.integer = r->integer;
  if (r->str) out.str.assign(r->str, r->len);
  if (r->type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r->elements);
    for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  }
  return out;
}

std::string_view element_str(const redisReply* r, size_t i) {
  if (i >= r->elements || !r->element[i]->str) return {};
  return {r->element[i]->str, r->element[i]->len};
}

// hiredis keeps only an error type and a text: map it to a code for callers
// and keep the text for log lines.
error_code code_of(int err, const char* text) {
  if (err == REDIS_ERR_EOF) return net::error::eof;
  if (err == REDIS_ERR_IO && text && std::strstr(text, std::strerror(ECONNREFUSED)))
    return net::error::connection_refused;
  if (err == REDIS_ERR_IO && text && std::strstr(text, std::strerror(ENOENT)))
    return net::error::not_found;
  return net::error::connection_reset;
}

// hiredis resolves a host name with a blocking getaddrinfo() on the calling
// thread, which is the event loop: a slow DNS would stall every layer. So a
// name is resolved first, as the probes do (clients::net::resolve: Asio's
// resolver, bounded by the connect timeout), and hiredis gets the address.
net::awaitable<error_code> resolve_for_hiredis(net::any_io_executor ex, std::string& host, std::uint16_t port,
                                               std::chrono::milliseconds timeout, std::string& error) {
  const auto found = co_await clients::net::resolve(ex, host, port, std::chrono::steady_clock::now() + timeout);
  if (found.ec) {
    error = "cannot resolve " + host + ": " +
            (found.ec == net::error::timed_out ? "no answer within " + std::to_string(timeout.count()) + " ms"
                                               : found.ec.message());
    co_return found.ec;
  }
  // Like hiredis itself: IPv4 first, IPv6 only when the name has no IPv4
  // address (a Redis client cannot afford to probe IPv6 connectivity).
  auto chosen = std::find_if(found.endpoints.begin(), found.endpoints.end(),
                             [](const auto& e) { return e.address().is_v4(); });
  if (chosen == found.endpoints.end()) chosen = found.endpoints.begin();
  host = chosen->address().to_string();
  co_return error_code{};
}

}  // namespace

struct RedisConnection::Link : std::enable_shared_from_this<Link> {
  struct Pending {
    ReplyHandler handler;
    Clock::time_point deadline;
  };

  Link(net::any_io_executor executor, Options opts)
      : ex(executor), sd(executor), timer(executor), options(opts) {}

  net::any_io_executor ex;
  redisAsyncContext* ac = nullptr;  // null once hiredis freed it (or before open)
  net::posix::stream_descriptor sd;
  net::steady_timer timer;
  Options options;
  std::deque<Pending> pending;
  std::shared_ptr<Link> self;  // keeps us alive while hiredis holds pointers to us
  CloseHandler on_close;
  MessageHandler on_message;
  std::string last_error;
  bool want_read = false, want_write = false, reading = false, writing = false;
  bool timer_armed = false, closed = false, established = false, subscribed = false;

  error_code open(const RedisEndpoint& ep) {
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

  // hiredis wants to read or write: wait for readiness once (its hooks must
  // be idempotent), then let it do the I/O.
  void watch(net::posix::stream_descriptor::wait_type w) {
    const bool read = w == net::posix::stream_descriptor::wait_read;
    (read ? want_read : want_write) = true;
    bool& waiting = read ? reading : writing;
    if (waiting || !ac) return;
    waiting = true;
    sd.async_wait(w, [s = shared_from_this(), read](error_code ec) {
      (read ? s->reading : s->writing) = false;
      if (ec || !s->ac || !(read ? s->want_read : s->want_write)) return;
      if (read) redisAsyncHandleRead(s->ac);
      else redisAsyncHandleWrite(s->ac);
    });
  }

  // hiredis is freeing the context (connection lost, or our own close()).
  void on_cleanup() {
    redisAsyncContext* gone = ac;
    ac = nullptr;
    want_read = want_write = false;
    if (sd.is_open()) sd.release();  // cancels our waits; hiredis closes the fd
    if (!closed) {
      const int err = gone ? gone->c.err : 0;
      const char* text = gone ? gone->c.errstr : nullptr;
      if (err && text && *text) last_error = text;
      else if (last_error.empty()) last_error = "connection closed by the server";
      shutdown(err ? code_of(err, text) : error_code(net::error::eof), true);
    }
    net::post(ex, [s = std::move(self)] {});  // let go of ourselves after hiredis is done
  }

  // Completes every pending handler with `ec` (posted: never inside the
  // caller's stack) and frees the hiredis context.
  void shutdown(error_code ec, bool notify) {
    if (closed) return;
    closed = true;
    auto failed = std::move(pending);
    pending.clear();
    timer.cancel();
    for (auto& p : failed)
      net::post(ex, [h = std::move(p.handler), ec] { h(ec, RedisReply{}); });
    if (notify && established && on_close) net::post(ex, [h = on_close, ec] { h(ec); });
    // on_close/on_message stay until we are destroyed: one of them may be
    // running right now (a message handler that closes its connection).
    if (ac) redisAsyncFree(ac);  // deferred by hiredis when inside one of its callbacks
  }

  static void on_reply(redisAsyncContext* c, void* r, void* privdata) {
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

  static void on_pubsub(redisAsyncContext*, void* r, void* privdata) {
    auto* link = static_cast<Link*>(privdata);
    const auto* reply = static_cast<redisReply*>(r);
    if (link->closed || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    const auto kind = element_str(reply, 0);
    if (kind == "message" || kind == "pmessage") {
      const size_t at = kind == "message" ? 1 : 2;
      if (link->on_message) link->on_message(element_str(reply, at), element_str(reply, at + 1));
    } else if ((kind == "subscribe" || kind == "psubscribe") && !link->pending.empty()) {
      // In subscribed mode the only commands we send are subscriptions, so
      // the oldest pending entry is this confirmation's.
      auto p = std::move(link->pending.front());
      link->pending.pop_front();
      p.handler({}, convert(reply));
    }
  }

  bool send(std::span<const std::string_view> args, ReplyHandler handler,
            std::chrono::milliseconds timeout, bool subscription = false) {
    const bool refused = closed || !ac || (subscribed && !subscription);
    if (!refused) {
      constexpr size_t inline_args = 8;
      const char* argv_small[inline_args];
      size_t len_small[inline_args];
      std::vector<const char*> argv_big;
      std::vector<size_t> len_big;
      const char** argv = argv_small;
      size_t* lens = len_small;
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
      const int rc = redisAsyncCommandArgv(ac, subscription ? &Link::on_pubsub : &Link::on_reply, this,
                                           static_cast<int>(args.size()), argv, lens);
      if (rc == REDIS_OK) {
        if (subscription) subscribed = true;
        pending.push_back({std::move(handler), Clock::now() + timeout});
        arm_timer();
        return true;
      }
    }
    const error_code ec = subscribed && !closed ? net::error::operation_not_supported
                                                : net::error::not_connected;
    net::post(ex, [h = std::move(handler), ec] { h(ec, RedisReply{}); });
    return false;
  }

  // One timer per connection, armed for the oldest pending command only:
  // replies come in order, so the oldest is the first that can be late.
  void arm_timer() {
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
};

RedisConnection::RedisConnection(net::any_io_executor ex, RedisEndpoint endpoint, Options options)
    : ex_(std::move(ex)), endpoint_(std::move(endpoint)), options_(options) {}

RedisConnection::RedisConnection(net::any_io_executor ex, RedisEndpoint endpoint)
    : RedisConnection(std::move(ex), std::move(endpoint), Options{}) {}

RedisConnection::~RedisConnection() {
  // Not close(): it keeps the last error for a later last_error() (a string
  // copy nobody reads after this). Shutting the link down posts the pending
  // handlers, which allocates; a destructor must not throw, and out of memory
  // here can only cost those handlers.
  if (!link_) return;
  auto link = std::move(link_);
  try {
    link->shutdown(net::error::operation_aborted, false);
  } catch (...) {
  }
}

namespace {

// Awaits the completion of one queued command. The reply is handed to the
// coroutine through a post, so it never resumes inside a hiredis callback.
template <class Start>
net::awaitable<RedisResult> await_reply(Start start) {
  return net::async_initiate<const net::use_awaitable_t<>&, void(RedisResult)>(
      [start](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([h](error_code ec, const RedisReply& r) {
          auto ex = net::get_associated_executor(*h);
          net::post(ex, [h, res = RedisResult{ec, r}]() mutable { (*h)(std::move(res)); });
        });
      },
      net::use_awaitable);
}

}  // namespace

net::awaitable<error_code> RedisConnection::connect() {
  close();
  auto link = std::make_shared<Link>(ex_, options_);
  link_ = link;
  RedisEndpoint at = endpoint_;
  if (at.unix_path.empty())
    if (auto ec = co_await resolve_for_hiredis(ex_, at.host, at.port, options_.connect_timeout, link->last_error)) {
      link->closed = true;
      co_return ec;
    }
  if (link_ != link) co_return net::error::operation_aborted;  // closed while resolving
  if (auto ec = link->open(at)) co_return ec;
  link->on_message = on_message_;

  // AUTH, SELECT and PING pipelined; the PING's reply means the others came.
  const auto t = options_.connect_timeout;
  auto auth_error = std::make_shared<std::string>();
  auto select_error = std::make_shared<std::string>();
  auto keep_error = [](std::shared_ptr<std::string> into) {
    return [into](error_code ec, const RedisReply& r) {
      if (!ec && r.is_error()) *into = r.str;
    };
  };
  if (!endpoint_.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    link->send(auth, keep_error(auth_error), t);
  }
  const auto db = std::to_string(endpoint_.db);
  if (endpoint_.db != 0) {
    const std::string_view select[] = {"SELECT", db};
    link->send(select, keep_error(select_error), t);
  }
  const auto ping = co_await await_reply([&](ReplyHandler h) {
    const std::string_view args[] = {"PING"};
    link->send(args, std::move(h), t);
  });
  if (ping.ec) co_return ping.ec;

  error_code ec;
  if (!auth_error->empty()) {
    link->last_error = "AUTH refused: " + *auth_error;
    ec = net::error::access_denied;
  } else if (!select_error->empty()) {
    link->last_error = "SELECT " + db + " refused: " + *select_error;
    ec = net::error::invalid_argument;
  } else if (ping.reply.is_error()) {
    link->last_error = "PING refused: " + ping.reply.str;
    ec = ping.reply.str.starts_with("LOADING") ? net::error::try_again
         : ping.reply.str.starts_with("NOAUTH") ? net::error::access_denied
                                                 : net::error::connection_refused;
  }
  if (link_ != link) co_return net::error::operation_aborted;  // closed meanwhile
  if (ec) {
    link->shutdown(ec, false);
    co_return ec;
  }
  link->established = true;
  link->on_close = on_close_;
  co_return error_code{};
}

bool RedisConnection::connected() const { return link_ && link_->established && !link_->closed; }

std::string RedisConnection::last_error() const { return link_ ? link_->last_error : last_error_; }

void RedisConnection::set_close_handler(CloseHandler handler) {
  on_close_ = std::move(handler);
  if (link_ && link_->established && !link_->closed) link_->on_close = on_close_;
}

void RedisConnection::set_message_handler(MessageHandler handler) {
  on_message_ = std::move(handler);
  if (link_ && !link_->closed) link_->on_message = on_message_;
}

bool RedisConnection::send(std::span<const std::string_view> args, ReplyHandler handler) {
  if (!link_) {
    net::post(ex_, [h = std::move(handler)] { h(net::error::not_connected, RedisReply{}); });
    return false;
  }
  return link_->send(args, std::move(handler), options_.command_timeout);
}

bool RedisConnection::send(std::initializer_list<std::string_view> args, ReplyHandler handler) {
  return send(std::span<const std::string_view>(args.begin(), args.size()), std::move(handler));
}

net::awaitable<RedisResult> RedisConnection::command(std::vector<std::string> args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  co_return co_await await_reply([&](ReplyHandler h) { send(views, std::move(h)); });
}

std::size_t RedisConnection::pending() const { return link_ ? link_->pending.size() : 0; }

net::awaitable<error_code> RedisConnection::subscribe_command(std::string verb, std::string name) {
  auto link = link_;
  if (!link || !connected()) co_return net::error::not_connected;
  const auto res = co_await await_reply([&](ReplyHandler h) {
    const std::string_view args[] = {verb, name};
    link->send(args, std::move(h), options_.command_timeout, true);
  });
  if (res.ec) co_return res.ec;
  if (res.reply.is_error()) {
    link->last_error = verb + " refused: " + res.reply.str;
    co_return net::error::access_denied;
  }
  co_return error_code{};
}

net::awaitable<error_code> RedisConnection::subscribe(std::string channel) {
  return subscribe_command("SUBSCRIBE", std::move(channel));
}

net::awaitable<error_code> RedisConnection::psubscribe(std::string pattern) {
  return subscribe_command("PSUBSCRIBE", std::move(pattern));
}

void RedisConnection::close() {
  if (!link_) return;
  last_error_ = link_->last_error;
  auto link = std::move(link_);
  link->shutdown(net::error::operation_aborted, false);
}

}  // namespace healthsweep::clients::redis
