#include "daemon/http_server.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <spdlog/spdlog.h>

#include <list>
#include <system_error>

namespace healthsweep::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::any_io_executor ex, Handler h, HttpLimits l)
      : acceptor(ex), handler(std::move(h)), limits(l) {}

  tcp::acceptor acceptor;
  Handler handler;
  HttpLimits limits;
  bool stopping = false;
  std::list<beast::tcp_stream*> sessions;  // open connections, for stop()
  std::chrono::steady_clock::time_point last_cap_log{};

  net::awaitable<void> accept_loop();
  net::awaitable<void> session(beast::tcp_stream stream);
  net::awaitable<void> reply_and_close(beast::tcp_stream& stream, http::status status,
                                       std::string body);
};

namespace {

// The whole response as one contiguous buffer. Writing that with one
// async_write costs 13% less CPU per request than http::async_write, whose
// serializer buffer sequences are walked again at every layer of the
// composed write (measured: bench/results/issue3.md).
// `wire` is the session's buffer, reused from one response to the next.
void serialize(Response& res, std::string& wire) {
  wire.clear();
  wire.reserve(256 + res.body().size());
  http::serializer<false, http::string_body> sr{res};
  beast::error_code ec;
  while (!sr.is_done() && !ec) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers))
        wire.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
  }
}

Response plain_error(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace

HttpServer::HttpServer(net::any_io_executor ex, const config::Endpoint& at, Handler handler,
                       HttpLimits limits)
    : impl_(std::make_shared<Impl>(ex, std::move(handler), limits)) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(at.host == "localhost" ? "127.0.0.1" : at.host, ec);
  if (ec)
    throw std::system_error(ec, "listen: '" + at.host + "' is not an IP address");
  const tcp::endpoint ep{address, at.port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec, "listen on " + at.host + ":" + std::to_string(at.port));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  net::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), clients::net::log_failure("http: acceptor"));
}

void HttpServer::stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  // End pending reads (idle keep-alive connections); a response being
  // written still goes out, then its session sees `stopping` and closes.
  for (auto* s : impl_->sessions) s->socket().shutdown(tcp::socket::shutdown_receive, ec);
}

std::string HttpServer::local_address() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

std::size_t HttpServer::open_connections() const { return impl_->sessions.size(); }

net::awaitable<void> HttpServer::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) {
      if (stopping || ec == net::error::operation_aborted) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      // Out of file descriptors (or another resource): accept would fail
      // again at once; pause instead of spinning on the error.
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    if (sessions.size() >= limits.max_connections) {
      // Refuse rather than queue: a flood of idle connections must not take
      // the admin endpoints away from everyone else. Logged at most once a second.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_cap_log > std::chrono::seconds(1)) {
        spdlog::warn("http: connection cap of {} reached, refusing new connections",
                     limits.max_connections);
        last_cap_log = now;
      }
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(acceptor.get_executor(), session(beast::tcp_stream(std::move(socket))),
                  clients::net::log_failure("http: session"));
  }
}

net::awaitable<void> HttpServer::Impl::reply_and_close(beast::tcp_stream& stream,
                                                       http::status status, std::string body) {
  auto res = plain_error(status, std::move(body));
  std::string wire;
  serialize(res, wire);
  stream.expires_after(limits.read_timeout);
  co_await net::async_write(stream, net::buffer(wire), use_nothrow);
}

net::awaitable<void> HttpServer::Impl::session(beast::tcp_stream stream) {
  auto self = shared_from_this();
  sessions.push_front(&stream);
  const auto me = sessions.begin();
  beast::flat_buffer buffer;
  std::string wire;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.body_limit(limits.body_limit);
    stream.expires_after(limits.read_timeout);  // the whole request, not per byte
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec) {
      if (ec == http::error::body_limit)
        co_await reply_and_close(stream, http::status::payload_too_large,
                                 R"({"error":"body over 64 KiB"})");
      else if (ec == http::error::header_limit)
        co_await reply_and_close(stream, http::status::request_header_fields_too_large,
                                 R"({"error":"request header over 8 KiB"})");
      else if (ec.category() == make_error_code(http::error::end_of_stream).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message)
        co_await reply_and_close(stream, http::status::bad_request,
                                 R"({"error":"malformed HTTP request"})");
      break;  // end of stream, timeout, reset: just close
    }
    Request req = parser.release();
    const bool keep_alive = req.keep_alive();
    Response res = handler(std::move(req));
    res.keep_alive(keep_alive && !stopping);
    serialize(res, wire);
    stream.expires_after(limits.read_timeout);
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(wire), use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  sessions.erase(me);
}

}  // namespace healthsweep::daemon
