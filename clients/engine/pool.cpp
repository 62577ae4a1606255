// The engine client's connection pool and raw request/response exchange.
#include "clients/engine/pool.hpp"

#include "clients/engine/json.hpp"
#include "clients/http/retry.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/un.h>

namespace healthsweep::clients::engine {

using namespace detail;

namespace detail {

void apply_http_status(EngineStatus& status, unsigned http_status, std::string_view body, std::string_view op) {
  status.http_status = http_status;
  if ((http_status >= 200 && http_status < 300) || http_status == 304) {
    status.ec = {};
    status.error.clear();
    return;
  }
  status.ec = http_status == 404   ? EngineErrc::not_found
              : http_status == 409 ? EngineErrc::conflict
              : http_status == 400 ? EngineErrc::bad_request
              : http_status >= 500 ? EngineErrc::server_error
                                   : EngineErrc::http_error;
  std::string message = engine_error_message(body);
  if (message.empty()) message = status.ec.message();
  status.error = "engine: ";
  status.error.append(op).append(": ").append(std::to_string(http_status)).append(" ").append(message);
}

}  // namespace detail

namespace {

// Errors meaning "the engine closed this idle keep-alive connection": the
// request never reached it, so sending it again on a new connection is safe.
bool stale_connection_error(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted;
}

std::string version_prefix_of(std::string_view version) {
  if (version.empty()) return {};
  if (version.front() == 'v') version.remove_prefix(1);
  return "/v" + std::string(version);
}

}  // namespace

EngineClient::Impl::Impl(net::any_io_executor executor, std::string path, std::string version,
                         std::chrono::milliseconds request_timeout, EngineClientOptions opts)
    : ex(std::move(executor)),
      socket_path(std::move(path)),
      version_prefix(version_prefix_of(version)),
      timeout(request_timeout),
      options(opts),
      slots(ex, options.max_connections) {
  options.max_connections = slots.capacity();
}

EngineClient::Impl::Lease::~Lease() {
  if (held) impl->release(std::move(conn));
}

std::string EngineClient::Impl::fail(std::string_view op, std::string_view what) const {
  std::string s = "engine: ";
  s.append(op).append(": ").append(what);
  return s;
}

void EngineClient::Impl::release(std::unique_ptr<Connection> conn) {
  if (conn && conn->stream.socket().is_open()) idle.push_back(std::move(conn));
  slots.release();
}

net::awaitable<boost::system::error_code> EngineClient::Impl::acquire(Lease& lease, Clock::time_point deadline) {
  Impl& self = *lease.impl;
  if (auto ec = co_await self.slots.acquire(deadline)) co_return ec;
  lease.held = true;
  if (!self.idle.empty()) {
    lease.conn = std::move(self.idle.back());
    self.idle.pop_back();
  }
  co_return boost::system::error_code{};
}

net::awaitable<boost::system::error_code> EngineClient::Impl::connect(Connection& conn, const std::string& path,
                                                                      Clock::time_point deadline) {
  boost::system::error_code ec;
  if (path.size() >= sizeof(sockaddr_un::sun_path)) co_return make_error_code(boost::system::errc::filename_too_long);
  conn.stream.expires_at(deadline);
  co_await conn.stream.async_connect(net::local::stream_protocol::endpoint(path),
                                     net::redirect_error(net::use_awaitable, ec));
  if (ec == beast::error::timeout) ec = make_error_code(boost::system::errc::timed_out);
  co_return ec;
}

namespace {

// A 2xx body handed on in pieces of at most this much, each one turn of the
// loop: a 10 MB container list is ~160 short turns, never one 10 MB string.
constexpr std::size_t body_piece_bytes = std::size_t{64} * 1024;

// Reads the rest of the answer whose header `p` holds, handing each piece
// of the body to on_body as it arrives (Beast's incremental read: the
// buffer_body's window is refilled until the parser is done).
net::awaitable<boost::system::error_code> read_in_pieces(Connection& conn, http::response_parser<http::buffer_body>& p,
                                                         const BodySink& on_body) {
  auto piece = std::make_unique<char[]>(body_piece_bytes);
  boost::system::error_code ec;
  while (!p.is_done()) {
    p.get().body().data = piece.get();
    p.get().body().size = body_piece_bytes;
    co_await http::async_read(conn.stream, conn.buffer, p, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};  // the window is full: hand it on, then go on
    if (ec) break;
    const std::size_t filled = body_piece_bytes - p.get().body().size;
    if (filled > 0) co_await on_body(std::string_view(piece.get(), filled));
  }
  co_return ec;
}

// One request on the lease's connection, or on a new one when it has none
// (as after a stale try, which drops the connection it failed on).
net::awaitable<clients::http::Attempt<EngineResult<RawResponse>>> try_once(
    EngineClient::Impl& self, EngineClient::Impl::Lease& lease, http::verb verb, const std::string& target,
    const std::string& op, std::chrono::milliseconds timeout, Clock::time_point deadline, const BodySink& on_body) {
  clients::http::Attempt<EngineResult<RawResponse>> tried;
  EngineResult<RawResponse>& r = tried.result;
  if (!lease.conn) {
    lease.conn = std::make_unique<Connection>(self.ex);
    ++self.stats.connections_opened;
    if (auto ec = co_await EngineClient::Impl::connect(*lease.conn, self.socket_path, deadline)) {
      lease.conn.reset();
      r.ec = ec;
      r.error = self.fail("connect " + self.socket_path, ec.message());
      co_return tried;
    }
  }
  Connection& conn = *lease.conn;
  const bool reused = conn.reused;
  conn.stream.expires_at(deadline);

  http::request<http::empty_body> req{verb, target, 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "healthsweep/" HEALTHSWEEP_VERSION);
  req.keep_alive(true);
  req.prepare_payload();
  ++self.stats.requests_sent;

  boost::system::error_code ec;
  co_await http::async_write(conn.stream, req, net::redirect_error(net::use_awaitable, ec));
  // The header first: a 2xx body given a sink is then read piece by piece,
  // any other whole (its error message is in it).
  http::response_parser<http::empty_body> head;
  head.body_limit(self.options.max_body_bytes);
  if (!ec) co_await http::async_read_header(conn.stream, conn.buffer, head, net::redirect_error(net::use_awaitable, ec));
  const bool got_some = head.got_some();
  bool keep_alive = false;
  if (!ec) {
    const auto& h = head.get();
    r.value.status = h.result_int();
    if (auto it = h.find("Api-Version"); it != h.end()) r.value.api_version = std::string(it->value());
    if (auto it = h.find(http::field::server); it != h.end()) r.value.server = std::string(it->value());
    if (head.is_done()) {
      // No body at all (204, 304, Content-Length: 0): a further read would
      // wait for bytes that never come.
      keep_alive = head.get().keep_alive();
    } else if (on_body && r.value.status / 100 == 2) {
      http::response_parser<http::buffer_body> pieces{std::move(head)};
      ec = co_await read_in_pieces(conn, pieces, on_body);
      keep_alive = pieces.get().keep_alive();
    } else {
      http::response_parser<http::string_body> whole{std::move(head)};
      co_await http::async_read(conn.stream, conn.buffer, whole, net::redirect_error(net::use_awaitable, ec));
      keep_alive = whole.get().keep_alive();
      r.value.body = std::move(whole.get().body());
    }
  }
  if (ec) {
    lease.conn.reset();
    r.value = {};
    // The engine had closed this idle connection: the request never reached it.
    tried.stale = reused && !got_some && stale_connection_error(ec);
    if (ec == beast::error::timeout) {
      r.ec = make_error_code(boost::system::errc::timed_out);
      r.error = self.fail(op, "no answer within " + std::to_string(timeout.count()) + " ms");
    } else {
      r.ec = ec;
      r.error = self.fail(op, ec.message());
    }
    co_return tried;
  }
  conn.stream.expires_never();
  conn.reused = true;
  r.http_status = r.value.status;
  if (!keep_alive) lease.conn.reset();
  co_return tried;
}

}  // namespace

net::awaitable<EngineResult<RawResponse>> EngineClient::Impl::request(std::shared_ptr<Impl> self, http::verb verb,
                                                                      std::string target, std::string op,
                                                                      std::chrono::milliseconds timeout,
                                                                      BodySink on_body) {
  const auto deadline = Clock::now() + timeout;
  Lease lease(self);
  if (auto ec = co_await acquire(lease, deadline)) {
    EngineResult<RawResponse> r;
    r.ec = ec;
    r.error = self->fail(op, ec == boost::system::errc::timed_out
                                 ? "no free engine connection within " + std::to_string(timeout.count()) + " ms (" +
                                       std::to_string(self->options.max_connections) + " in use)"
                                 : ec.message());
    co_return r;
  }
  co_return co_await clients::http::retry_once_if_stale<EngineResult<RawResponse>>(
      deadline, [&](bool) { return try_once(*self, lease, verb, target, op, timeout, deadline, on_body); }, [] {});
}

}  // namespace healthsweep::clients::engine
