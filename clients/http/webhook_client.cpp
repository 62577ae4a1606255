#include "clients/http/webhook_client.hpp"

#include "clients/http/url.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace healthsweep::clients::http {

using namespace healthsweep::clients::net;

using healthsweep::clients::net::ProbeOutcome;

namespace net = boost::asio;

namespace {

bool worth_retrying(const ProbeOutcome& outcome) {
  return !outcome.alive && (outcome.http_status == 0 || outcome.http_status >= 500);
}

}  // namespace

WebhookClient::WebhookClient(net::any_io_executor ex, WebhookOptions options)
    : ex_(ex), options_(std::move(options)), pool_(std::move(ex), options_.http) {}

net::awaitable<ProbeOutcome> WebhookClient::post(std::string_view url, std::string body,
                                                 std::chrono::milliseconds timeout, int attempts) {
  return run(std::string(url), std::move(body), timeout, attempts);
}

net::awaitable<ProbeOutcome> WebhookClient::run(std::string url, std::string body,
                                                std::chrono::milliseconds timeout, int attempts) {
  const auto start = std::chrono::steady_clock::now();
  ProbeOutcome outcome;
  // A URL that cannot work is not retried.
  if (const auto parsed = parse_http_url(url); !parsed.url) {
    outcome.detail = parsed.error;
    co_return outcome;
  }
  attempts = std::max(attempts, 1);
  auto backoff = options_.backoff_initial;
  net::steady_timer pause(ex_);
  int attempt = 1;
  for (;; ++attempt) {
    ++attempts_made_;
    outcome = co_await pool_.post_json(url, body, timeout);
    if (!worth_retrying(outcome) || attempt == attempts) break;
    pause.expires_after(backoff);
    boost::system::error_code ec;
    co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
    backoff *= 2;
  }
  if (outcome.alive && attempt > 1)
    outcome.detail += " (attempt " + std::to_string(attempt) + " of " + std::to_string(attempts) + ")";
  else if (!outcome.alive && attempt > 1)
    outcome.detail += " (" + std::to_string(attempt) + " attempts)";
  outcome.elapsed = std::chrono::steady_clock::now() - start;
  co_return outcome;
}

}  // namespace healthsweep::clients::http
