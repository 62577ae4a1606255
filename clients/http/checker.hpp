// HTTP(S) health checks of the proactive layer: GET a URL within a timeout,
// 2xx = alive. A thin client: it knows URLs, not targets; the caller turns
// the outcome into evidence.
//
// - http:// and https:// only (parsed with Boost.URL; anything else is a
//   dead outcome whose detail says why).
// - Redirects are not followed: 3xx is dead ("HTTP 302 (redirects are not
//   followed)"), as any other non-2xx status.
// - https: Asio's OpenSSL stream, TLS 1.2 or newer, the system CAs
//   (set_default_verify_paths), verify_peer, SNI, and the certificate checked
//   against the URL's host name or IP address. A failure reads "TLS: ...".
// - Keep-alive connections are reused per origin and at most max_in_flight
//   checks run at once; see http_connection_pool.hpp for the rules. The
//   timeout starts when a check gets its slot and bounds resolve, connect,
//   TLS handshake, request and response together; a timeout is just another
//   failure ("timeout after 5000 ms").
// - At most 64 KiB of a response body is read: the status code is the answer.
#pragma once

#include "clients/http/connection_pool.hpp"
#include "clients/net/probe_outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string_view>

namespace healthsweep::clients::http {

class HttpChecker {
 public:
  HttpChecker(boost::asio::any_io_executor ex, std::size_t max_in_flight = 256);
  HttpChecker(boost::asio::any_io_executor ex, HttpClientOptions options);

  // Runs on the executor given at construction. `url` is copied at the call.
  boost::asio::awaitable<clients::net::ProbeOutcome> check(std::string_view url, std::chrono::milliseconds timeout);

  std::size_t connections_opened() const;
  HttpClientStats stats() const { return pool_.stats(); }
  void close_idle() { pool_.close_idle(); }

 private:
  HttpConnectionPool pool_;
};

}  // namespace healthsweep::clients::http
