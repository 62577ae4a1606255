// The HTTP client remediation uses for `remediation.restart.via: webhook`:
// POST a JSON body to a URL, 2xx = done. Knows URLs, not targets.
//
// Retries (up to `attempts` in all, with backoff_initial, then doubling,
// between them) when nothing answered (connect error, timeout, TLS failure)
// or the answer was 5xx. 4xx (the receiver refused this body) and 3xx
// (redirects are not followed) are final. `timeout` bounds each attempt.
// Keep-alive connections are reused as in HttpChecker.
#pragma once

#include "clients/http/connection_pool.hpp"
#include "clients/net/probe_outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace healthsweep::clients::http {

struct WebhookOptions {
  std::chrono::milliseconds backoff_initial{250};
  HttpClientOptions http = [] {
    HttpClientOptions o;
    o.max_in_flight = 16;
    o.max_idle = 4;
    return o;
  }();
};

class WebhookClient {
 public:
  explicit WebhookClient(boost::asio::any_io_executor ex, WebhookOptions options = {});

  // Outcome details: "HTTP 204", "HTTP 200 (attempt 2 of 3)",
  // "HTTP 503 (3 attempts)", "HTTP 400", "connect: Connection refused (3 attempts)".
  // `url` and `body` are copied at the call.
  boost::asio::awaitable<clients::net::ProbeOutcome> post(std::string_view url, std::string body,
                                            std::chrono::milliseconds timeout, int attempts = 3);

  std::uint64_t attempts_made() const { return attempts_made_; }
  HttpClientStats stats() const { return pool_.stats(); }

 private:
  boost::asio::awaitable<clients::net::ProbeOutcome> run(std::string url, std::string body,
                                           std::chrono::milliseconds timeout, int attempts);

  boost::asio::any_io_executor ex_;
  WebhookOptions options_;
  HttpConnectionPool pool_;
  std::uint64_t attempts_made_ = 0;
};

}  // namespace healthsweep::clients::http
