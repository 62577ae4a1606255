// RedisConnection: connect (resolve, AUTH, SELECT, PING), commands and
// subscriptions over one Link, the hiredis-to-Asio adapter (link.hpp).
#include "clients/redis/client.hpp"
#include "clients/net/resolver.hpp"
#include "clients/redis/link.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace healthsweep::clients::redis {

namespace net = boost::asio;
using boost::system::error_code;

namespace {

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

net::awaitable<error_code> RedisConnection::subscribe_command(std::string verb, std::vector<std::string> names) {
  auto link = link_;
  if (!link || !connected()) co_return net::error::not_connected;
  if (names.empty()) co_return error_code{};
  const auto res = co_await await_reply([&](ReplyHandler h) {
    std::vector<std::string_view> args{verb};
    args.insert(args.end(), names.begin(), names.end());
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
  std::vector<std::string> names{std::move(channel)};
  return subscribe_command("SUBSCRIBE", std::move(names));
}

net::awaitable<error_code> RedisConnection::subscribe(std::vector<std::string> channels) {
  return subscribe_command("SUBSCRIBE", std::move(channels));
}

net::awaitable<error_code> RedisConnection::psubscribe(std::string pattern) {
  std::vector<std::string> names{std::move(pattern)};
  return subscribe_command("PSUBSCRIBE", std::move(names));
}

bool RedisConnection::unsubscribe(const std::vector<std::string>& channels) {
  if (!link_ || !connected() || channels.empty()) return false;
  std::vector<std::string_view> args{"UNSUBSCRIBE"};
  args.insert(args.end(), channels.begin(), channels.end());
  return link_->send_unsubscribe(args);
}

void RedisConnection::close() {
  if (!link_) return;
  last_error_ = link_->last_error;
  auto link = std::move(link_);
  link->shutdown(net::error::operation_aborted, false);
}

}  // namespace healthsweep::clients::redis
