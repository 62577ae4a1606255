// Internal to the HTTP probes: one HTTP/1.1 connection (plain or TLS) and one
// request/response on it. Pooling and concurrency limits live in
// http_connection_pool.cpp; this file only talks to a server.
#pragma once

#include "clients/http/url.hpp"
#include "clients/net/probe_outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/fields.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace healthsweep::clients::http::exchange {

using Clock = std::chrono::steady_clock;

struct Connection {
  std::string origin;                 // pool key, http::HttpUrl::origin()
  std::optional<boost::beast::tcp_stream> plain;
  std::optional<boost::asio::ssl::stream<boost::beast::tcp_stream>> tls;
  boost::beast::flat_buffer buffer;   // bytes read past a response (none with HTTP/1.1 without pipelining)
  Clock::time_point idle_since{};
  bool host_mismatch = false;         // set by the certificate check, for the outcome's detail

  boost::beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
  // False when the server closed it (or sent something unasked) while idle.
  bool usable_after_idle();
  void close();
};

struct Request {
  bool post = false;             // GET otherwise
  const http::HttpUrl* url = nullptr;
  const std::string* body = nullptr;  // POST only, sent as application/json
  std::chrono::milliseconds timeout{};
  Clock::time_point deadline{};
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  std::string_view bearer{};          // sent as "Authorization: Bearer ..." when not empty
  std::string* body_out = nullptr;    // when set, the body read is appended here (healthsweepctl)
  boost::beast::http::fields* headers_out = nullptr;  // when set, the response's header fields
  // When set, sent as they are (after the ones above, which they replace):
  // a hook report forwarded to its owner keeps the caller's Authorization.
  const boost::beast::http::fields* extra_headers = nullptr;
};

struct Connected {
  std::unique_ptr<Connection> connection;  // null on failure
  std::string detail;                      // why not
};

// TCP connect (resolving a host name first) and, for https, the TLS handshake
// with SNI, peer verification against `tls_context` and a host name check.
boost::asio::awaitable<Connected> connect(boost::asio::any_io_executor ex, const Request& request,
                                          boost::asio::ssl::context& tls_context);

struct Exchanged {
  clients::net::ProbeOutcome outcome;     // elapsed left to the caller
  bool reusable = false;    // a complete response on a keep-alive connection
  bool nothing_received = false;  // failed before any response byte: a stale connection's signature
  bool body_complete = false;     // the whole body was read (not cut at max_body_bytes nor by an error)
};

// Writes the request, reads the status line and headers, then reads and drops
// (or appends to body_out) up to max_body_bytes of body. A longer body ends the read (the status code is
// the answer) and the connection is not reused.
boost::asio::awaitable<Exchanged> exchange(Connection& connection, const Request& request);

}  // namespace healthsweep::clients::http::exchange
