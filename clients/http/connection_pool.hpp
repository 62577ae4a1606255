// Internal to the HTTP probes (HttpChecker, WebhookClient): HTTP/1.1 requests
// over keep-alive connections pooled per origin (scheme, host, port), with a
// bound on requests in flight and a bound on idle connections.
//
// - At most max_in_flight requests talk to servers at once; the others wait,
//   in order, for a slot. The request's timeout starts when it has a slot:
//   waiting behind other checks is not the target's fault.
// - Idle connections: at most max_idle over all origins, each closed after
//   idle_timeout. One the server closed while idle is noticed before reuse
//   (a non-blocking peek); a reused connection that fails before any byte of
//   the response arrives is replaced by a fresh one once, within the same
//   deadline, so a stale connection never reads as a dead target.
//   (The slot limiter and that rule are slots.hpp and retry.hpp, shared with
//   the engine client's pool.)
// - Open sockets never exceed max_in_flight + max_idle.
// - Runs on the one executor it is given (the daemon's single-threaded loop);
//   not for use from several threads. While idle connections exist, one timer
//   is pending on that executor to close them when they expire.
#pragma once

#include "clients/net/probe_outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace healthsweep::clients::http {

struct HttpClientOptions {
  std::size_t max_in_flight = 256;
  std::size_t max_idle = 1024;  // over all origins: one per target of a 1,000-URL fleet
  // Longer than a sweep interval (15 s by default), so a connection carries
  // the check of the next sweep too.
  std::chrono::milliseconds idle_timeout{45'000};
  std::size_t max_body_bytes = std::size_t{64} * 1024;  // read and dropped; more and the connection is not reused
  // PEM file of CAs trusted in addition to the system's (a private CA); empty:
  // the system CAs only.
  std::string extra_ca_file;
};

struct HttpClientStats {
  std::uint64_t requests = 0;
  std::uint64_t connections_opened = 0;  // TCP connections (with TLS: handshakes started)
  std::uint64_t stale_replaced = 0;      // reused connections found closed and replaced
  std::size_t idle = 0;                  // idle pooled connections now
  std::size_t in_flight = 0;             // requests holding a slot now
  std::size_t waiting = 0;               // requests waiting for a slot now
};

// A POST whose answer matters beyond its status (a hook report forwarded
// to its owner): extra header fields sent, the body read back.
struct JsonPost {
  std::string url, body;
  boost::beast::http::fields headers;  // sent as they are (Authorization, ...)
  std::chrono::milliseconds timeout{};
};
struct JsonAnswer {
  clients::net::ProbeOutcome outcome;
  std::string body;  // up to max_body_bytes
};

class HttpConnectionPool {
 public:
  // Throws on an unreadable extra_ca_file (a startup problem).
  HttpConnectionPool(boost::asio::any_io_executor ex, HttpClientOptions options = {});
  ~HttpConnectionPool();
  HttpConnectionPool(const HttpConnectionPool&) = delete;
  HttpConnectionPool& operator=(const HttpConnectionPool&) = delete;

  // GET url (or POST body as application/json) within timeout; never throws
  // for network problems: they come back as the outcome's detail.
  boost::asio::awaitable<clients::net::ProbeOutcome> get(std::string_view url, std::chrono::milliseconds timeout);
  boost::asio::awaitable<clients::net::ProbeOutcome> post_json(std::string_view url, std::string body,
                                                 std::chrono::milliseconds timeout);

  boost::asio::awaitable<JsonAnswer> post_json(JsonPost post);

  HttpClientStats stats() const;
  // Closes every idle connection (e.g. on reload, when targets changed).
  void close_idle();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::clients::http
