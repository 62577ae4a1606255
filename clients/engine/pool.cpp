// The engine client's connection pool and raw request/response exchange.
#include "clients/engine/pool.hpp"

#include "clients/engine/json.hpp"
#include "clients/http/retry.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
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

// One request on the lease's connection, or on a new one when it has none
// (as after a stale try, which drops the connection it failed on).
net::awaitable<clients::http::Attempt<EngineResult<RawResponse>>> try_once(
    EngineClient::Impl& self, EngineClient::Impl::Lease& lease, http::verb verb, const std::string& target,
    const std::string& op, std::chrono::milliseconds timeout, Clock::time_point deadline) {
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
  http::response_parser<http::string_body> parser;
  parser.body_limit(self.options.max_body_bytes);
  if (!ec) co_await http::async_read(conn.stream, conn.buffer, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    lease.conn.reset();
    // The engine had closed this idle connection: the request never reached it.
    tried.stale = reused && !parser.got_some() && stale_connection_error(ec);
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
  auto& res = parser.get();
  r.http_status = res.result_int();
  r.value.status = res.result_int();
  if (auto it = res.find("Api-Version"); it != res.end()) r.value.api_version = std::string(it->value());
  if (auto it = res.find(http::field::server); it != res.end()) r.value.server = std::string(it->value());
  if (!res.keep_alive()) lease.conn.reset();
  r.value.body = std::move(res.body());
  co_return tried;
}

}  // namespace

net::awaitable<EngineResult<RawResponse>> EngineClient::Impl::request(std::shared_ptr<Impl> self, http::verb verb,
                                                                      std::string target, std::string op,
                                                                      std::chrono::milliseconds timeout) {
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
      deadline, [&](bool) { return try_once(*self, lease, verb, target, op, timeout, deadline); }, [] {});
}

}  // namespace healthsweep::clients::engine
