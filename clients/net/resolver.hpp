// Internal helpers shared by the probes (HTTP checker, TCP checker, webhook
// client) and the Redis client: name resolution bounded by a deadline, and
// the one-line details of an outcome. Included only by those .cpp files.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::clients::net {

using Clock = std::chrono::steady_clock;

struct Resolved {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  boost::system::error_code ec;  // asio::error::timed_out when the deadline passed first
};

// An IP literal becomes one endpoint at once; a name is resolved with
// getaddrinfo (Asio's resolver). getaddrinfo cannot be interrupted, so past
// the deadline we stop waiting for it and let it finish in the background.
boost::asio::awaitable<Resolved> resolve(boost::asio::any_io_executor ex, std::string host,
                                         std::uint16_t port, Clock::time_point deadline);

// "timeout after 5000 ms"
std::string timeout_detail(std::chrono::milliseconds timeout);

// "<stage>: <message>", e.g. "connect: Connection refused".
std::string error_detail(std::string_view stage, const boost::system::error_code& ec);

}  // namespace healthsweep::clients::net
