// A scripted stand-in for the engine's unix socket, for the engine client's
// pool, retry, timeout and stream tests: each request gets the reply the test
// function returns (status, body, delay, closing, or a raw chunked stream).
// Runs on the test's io_context; counts connections and requests in flight.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <functional>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace healthsweep::testing {

namespace fake_net = boost::asio;
namespace fake_http = boost::beast::http;

struct FakeReply {
  FakeReply() = default;
  FakeReply(unsigned status_code, std::string reply_body, std::chrono::milliseconds reply_delay = {},
            bool close_after = false)
      : status(status_code), body(std::move(reply_body)), delay(reply_delay), close_silently(close_after) {}
  static FakeReply silence() {
    FakeReply r;
    r.never_answer = true;
    return r;
  }

  unsigned status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
  bool close_silently = false;  // close the connection after answering, without "Connection: close"
  bool never_answer = false;    // read the request, then say nothing (until the client gives up)
  // A raw chunked 200 response: each piece written separately, gap between them.
  std::vector<std::string> stream_pieces;
  std::chrono::milliseconds piece_gap{0};
  bool stream_keeps_open = false;  // no terminating chunk: the stream stays open
};

class FakeEngine {
 public:
  using Request = fake_http::request<fake_http::string_body>;
  using Script = std::function<FakeReply(const Request&)>;

  FakeEngine(fake_net::io_context& io, std::string path, Script script)
      : state_(std::make_shared<State>(io, path, std::move(script))) {
    fake_net::co_spawn(io, accept_loop(state_), fake_net::detached);
  }
  ~FakeEngine() { stop(); }
  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;
  void stop() {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (auto& s : state_->sockets)
      if (auto p = s.lock()) p->close(ignored);
  }

  int connections() const { return state_->connections; }
  int requests() const { return state_->requests; }
  int max_in_flight() const { return state_->max_in_flight; }
  const std::vector<std::string>& targets() const { return state_->targets; }

 private:
  using Socket = fake_net::local::stream_protocol::socket;
  // Shared with the server's coroutines, which may outlive this object
  // until the io_context lets them finish.
  struct State {
    State(fake_net::io_context& context, const std::string& path, Script s)
        : io(context), acceptor(context, fake_net::local::stream_protocol::endpoint(path)), script(std::move(s)) {}
    fake_net::io_context& io;
    fake_net::local::stream_protocol::acceptor acceptor;
    Script script;
    std::vector<std::weak_ptr<Socket>> sockets;
    int connections = 0;
    int requests = 0;
    int in_flight = 0;
    int max_in_flight = 0;
    std::vector<std::string> targets;
  };

  static fake_net::awaitable<void> accept_loop(std::shared_ptr<State> st) {
    for (;;) {
      boost::system::error_code ec;
      auto socket = std::make_shared<Socket>(
          co_await st->acceptor.async_accept(fake_net::redirect_error(fake_net::use_awaitable, ec)));
      if (ec) co_return;
      ++st->connections;
      st->sockets.push_back(socket);
      fake_net::co_spawn(st->io, serve(st, socket), fake_net::detached);
    }
  }

  static fake_net::awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Socket> socket) {
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    fake_net::steady_timer timer(st->io);
    for (;;) {
      Request req;
      co_await fake_http::async_read(*socket, buffer, req, fake_net::redirect_error(fake_net::use_awaitable, ec));
      if (ec) co_return;
      ++st->requests;
      st->targets.push_back(std::string(req.target()));
      const FakeReply reply = st->script(req);
      ++st->in_flight;
      st->max_in_flight = std::max(st->max_in_flight, st->in_flight);
      struct Done {
        std::shared_ptr<State> st;
        ~Done() { --st->in_flight; }
      } done{st};
      if (reply.delay.count() > 0) {
        timer.expires_after(reply.delay);
        co_await timer.async_wait(fake_net::redirect_error(fake_net::use_awaitable, ec));
      }
      if (reply.never_answer) {
        co_await wait_for_close(*socket);
        co_return;
      }
      if (!reply.stream_pieces.empty()) {
        co_await write_raw(*socket,
                           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (const auto& piece : reply.stream_pieces) {
          timer.expires_after(reply.piece_gap);
          co_await timer.async_wait(fake_net::redirect_error(fake_net::use_awaitable, ec));
          if (!co_await write_raw(*socket, to_hex(piece.size()) + "\r\n" + piece + "\r\n")) co_return;
        }
        if (reply.stream_keeps_open) {
          co_await wait_for_close(*socket);
        } else {
          co_await write_raw(*socket, "0\r\n\r\n");
          socket->close(ec);
        }
        co_return;
      }
      fake_http::response<fake_http::string_body> res{static_cast<fake_http::status>(reply.status), 11};
      res.set(fake_http::field::content_type, "application/json");
      res.set("Api-Version", "1.41");
      res.set(fake_http::field::server, "FakeEngine");
      res.body() = reply.body;
      res.prepare_payload();
      co_await fake_http::async_write(*socket, res, fake_net::redirect_error(fake_net::use_awaitable, ec));
      if (ec) co_return;
      if (reply.close_silently) {
        socket->close(ec);
        co_return;
      }
    }
  }

  static fake_net::awaitable<void> wait_for_close(Socket& socket) {
    char byte;
    boost::system::error_code ec;
    while (!ec)
      co_await socket.async_read_some(fake_net::buffer(&byte, 1), fake_net::redirect_error(fake_net::use_awaitable, ec));
  }

  static std::string to_hex(std::size_t n) {
    char text[24];
    std::snprintf(text, sizeof text, "%zx", n);
    return text;
  }

  static fake_net::awaitable<bool> write_raw(Socket& socket, std::string data) {
    boost::system::error_code ec;
    co_await fake_net::async_write(socket, fake_net::buffer(data), fake_net::redirect_error(fake_net::use_awaitable, ec));
    co_return !ec;
  }

  std::shared_ptr<State> state_;
};

// Runs `task` on `io` (which also runs the fake engine) until it completes.
template <class T>
T run_on(fake_net::io_context& io, fake_net::awaitable<T> task,
         std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  std::optional<T> result;
  std::exception_ptr error;
  fake_net::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
  });
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!result && !error && std::chrono::steady_clock::now() < end) io.run_one_for(std::chrono::milliseconds(50));
  if (error) std::rethrow_exception(error);
  if (!result) throw std::runtime_error("run_on: task did not finish in time");
  return std::move(*result);
}

}  // namespace healthsweep::testing
