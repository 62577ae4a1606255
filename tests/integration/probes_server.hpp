// A real HTTP/1.1 server on a free loopback port, plain or TLS, for the probe
// tests (probes_*_test.cpp). It runs on the test's own io_context (the same
// loop as the client under test), answers each request as the test's handler
// says, and counts what a test asserts on: connections accepted, open at once,
// requests, bodies received, bytes of body written.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace healthsweep::testing::probes {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct Seen {  // one request as the server read it
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
  int index_on_connection = 0;  // 0 for the first request of a connection
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::size_t huge_body_bytes = 0;       // > 0: a body of this many bytes instead, written in 64 KiB pieces
  std::chrono::milliseconds delay{0};    // wait before answering
  bool close_after = false;              // Connection: close
  bool never_answer = false;             // read the request, then stay silent
  bool drop_without_answer = false;      // read the request, then close the connection
  std::string location{};                // Location header (redirects)
  std::string interim{};                 // raw bytes before the answer (1xx interim answers)
  std::string raw{};                     // non-empty: these bytes are the whole answer
};

using Handler = std::function<Reply(const Seen&)>;

class Server {
 public:
  // tls: a server context with certificate and key loaded; null for plain HTTP.
  // idle_timeout: how long a connection may wait for its next request before
  // the server closes it (like any keep-alive server); zero = forever.
  Server(net::io_context& ctx, Handler handler, net::ssl::context* tls = nullptr,
         std::chrono::milliseconds idle_timeout = 0ms)
      : state_(std::make_shared<State>(ctx, std::move(handler), tls, idle_timeout)) {
    auto& a = state_->acceptor;
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    a.open(ep.protocol());
    a.set_option(tcp::acceptor::reuse_address(true));
    a.bind(ep);
    a.listen(net::socket_base::max_listen_connections);
    net::co_spawn(ctx, accept_loop(state_), net::detached);
  }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const { return state_->acceptor.local_endpoint().port(); }
  std::string url(const std::string& path = "/health") const {
    return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
  }

  std::size_t accepted() const { return state_->accepted; }
  std::size_t open_now() const { return state_->open.size(); }
  std::size_t max_open() const { return state_->max_open; }
  std::size_t requests() const { return state_->seen.size(); }
  const std::vector<Seen>& seen() const { return state_->seen; }
  std::size_t huge_bytes_written() const { return state_->huge_bytes_written; }

  // Closes the listening socket and every connection.
  void stop() {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (auto* s : state_->open) s->close(ignored);
  }

 private:
  struct State {
    State(net::io_context& ctx, Handler h, net::ssl::context* t, std::chrono::milliseconds idle)
        : acceptor(ctx), handler(std::move(h)), tls(t), idle_timeout(idle) {}
    tcp::acceptor acceptor;
    Handler handler;
    net::ssl::context* tls;
    std::chrono::milliseconds idle_timeout;
    std::size_t accepted = 0;
    std::size_t max_open = 0;
    std::set<tcp::socket*> open;
    std::vector<Seen> seen;
    std::size_t huge_bytes_written = 0;
  };

  static net::awaitable<void> accept_loop(std::shared_ptr<State> st) {
    for (;;) {
      auto [ec, socket] = co_await st->acceptor.async_accept(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      ++st->accepted;
      net::co_spawn(st->acceptor.get_executor(), session(st, std::move(socket)), net::detached);
    }
  }

  static net::awaitable<void> session(std::shared_ptr<State> st, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    auto* raw = &stream.socket();
    st->open.insert(raw);
    st->max_open = std::max(st->max_open, st->open.size());
    struct Forget {
      State& st;
      tcp::socket* raw;
      ~Forget() { st.open.erase(raw); }
    } forget{*st, raw};
    if (!st->tls) {
      co_await serve(st, stream, stream);
      co_return;
    }
    net::ssl::stream<beast::tcp_stream&> tls(stream, *st->tls);
    stream.expires_after(10s);
    auto [ec] = co_await tls.async_handshake(net::ssl::stream_base::server, net::as_tuple(net::use_awaitable));
    if (ec) co_return;  // e.g. the client refused our certificate
    co_await serve(st, tls, stream);
  }

  template <class Stream>
  static net::awaitable<void> serve(std::shared_ptr<State> st, Stream& s, beast::tcp_stream& tcp_layer) {
    beast::flat_buffer buffer;
    for (int index = 0;; ++index) {
      if (st->idle_timeout > 0ms) tcp_layer.expires_after(st->idle_timeout);
      else tcp_layer.expires_never();
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(s, buffer, req, net::as_tuple(net::use_awaitable));
      if (ec) co_return;  // end of stream, idle timeout, reset: close
      tcp_layer.expires_never();
      Seen seen{std::string(req.method_string()), std::string(req.target()),
                std::string(req[http::field::content_type]), req.body(), index};
      st->seen.push_back(seen);
      const Reply reply = st->handler(seen);
      if (reply.delay > 0ms) {
        net::steady_timer t(co_await net::this_coro::executor, reply.delay);
        co_await t.async_wait(net::as_tuple(net::use_awaitable));
      }
      if (reply.never_answer) {
        net::steady_timer t(co_await net::this_coro::executor, std::chrono::hours(1));
        co_await t.async_wait(net::as_tuple(net::use_awaitable));  // until stop() or the client closes
        co_return;
      }
      if (reply.drop_without_answer) co_return;
      const bool keep = !reply.close_after && req.keep_alive();
      if (!co_await answer(st, s, reply, keep)) co_return;
      if (!keep) co_return;
    }
  }

  template <class Stream>
  static net::awaitable<bool> answer(std::shared_ptr<State> st, Stream& s, const Reply& reply, bool keep) {
    for (const auto* bytes : {&reply.interim, &reply.raw}) {
      if (bytes->empty()) continue;
      auto [ec, n] = co_await net::async_write(s, net::buffer(*bytes), net::as_tuple(net::use_awaitable));
      if (ec) co_return false;
    }
    if (!reply.raw.empty()) co_return true;
    if (reply.huge_body_bytes == 0) {
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, "text/plain");
      if (!reply.location.empty()) res.set(http::field::location, reply.location);
      res.body() = reply.body;
      res.keep_alive(keep);
      res.prepare_payload();
      auto [ec, n] = co_await http::async_write(s, res, net::as_tuple(net::use_awaitable));
      co_return !ec;
    }
    http::response<http::empty_body> head{static_cast<http::status>(reply.status), 11};
    head.set(http::field::content_type, "application/octet-stream");
    head.content_length(reply.huge_body_bytes);
    head.keep_alive(keep);
    http::response_serializer<http::empty_body> sr{head};
    auto [hec, hn] = co_await http::async_write_header(s, sr, net::as_tuple(net::use_awaitable));
    if (hec) co_return false;
    const std::string piece(64 * 1024, 'x');
    for (std::size_t left = reply.huge_body_bytes; left > 0;) {
      const std::size_t n = std::min(left, piece.size());
      auto [ec, written] = co_await net::async_write(s, net::buffer(piece.data(), n),
                                                     net::as_tuple(net::use_awaitable));
      st->huge_bytes_written += written;
      if (ec) co_return false;  // the client stopped reading and closed: expected
      left -= n;
    }
    co_return true;
  }

  std::shared_ptr<State> state_;
};

// Runs `ctx` until `done()` is true or `limit` passes; returns done().
template <class Pred>
bool run_until(net::io_context& ctx, Pred done, std::chrono::milliseconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  ctx.restart();
  while (!done() && std::chrono::steady_clock::now() < end) ctx.run_one_for(50ms);
  return done();
}

// Runs one coroutine to its end on `ctx` (servers on the same loop keep
// serving meanwhile) and returns its result; throws what it threw.
template <class T>
T run(net::io_context& ctx, net::awaitable<T> work, std::chrono::milliseconds limit = 60s) {
  std::optional<T> result;
  std::exception_ptr error;
  bool finished = false;
  net::co_spawn(ctx, std::move(work), [&](std::exception_ptr e, T value) {
    finished = true;
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  if (!run_until(ctx, [&] { return finished; }, limit))
    throw std::runtime_error("coroutine did not finish within the test's limit");
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace healthsweep::testing::probes
