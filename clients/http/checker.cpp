#include "clients/http/checker.hpp"

namespace healthsweep::clients::http {

using namespace healthsweep::clients::net;

using healthsweep::clients::net::ProbeOutcome;

namespace {

HttpClientOptions with_max_in_flight(std::size_t max_in_flight) {
  HttpClientOptions options;
  options.max_in_flight = max_in_flight;
  return options;
}

}  // namespace

HttpChecker::HttpChecker(boost::asio::any_io_executor ex, std::size_t max_in_flight)
    : pool_(std::move(ex), with_max_in_flight(max_in_flight)) {}

HttpChecker::HttpChecker(boost::asio::any_io_executor ex, HttpClientOptions options)
    : pool_(std::move(ex), std::move(options)) {}

boost::asio::awaitable<ProbeOutcome> HttpChecker::check(std::string_view url,
                                                        std::chrono::milliseconds timeout) {
  return pool_.get(url, timeout);
}

std::size_t HttpChecker::connections_opened() const { return pool_.stats().connections_opened; }

}  // namespace healthsweep::clients::http
