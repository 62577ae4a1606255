#include "clients/net/resolver.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace healthsweep::clients::net {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Outlives the waiting coroutine when the deadline wins: the resolver's
// completion still has somewhere to land.
struct PendingResolve {
  explicit PendingResolve(const net::any_io_executor& ex) : resolver(ex), wake(ex) {}
  tcp::resolver resolver;
  net::steady_timer wake;
  bool finished = false;
  Resolved result;
};

}  // namespace

net::awaitable<Resolved> resolve(net::any_io_executor ex, std::string host, std::uint16_t port,
                                 Clock::time_point deadline) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) co_return Resolved{{tcp::endpoint(address, port)}, {}};

  auto pending = std::make_shared<PendingResolve>(ex);
  pending->wake.expires_at(deadline);
  pending->resolver.async_resolve(
      host, std::to_string(port), tcp::resolver::numeric_service,
      [pending](const boost::system::error_code& rec, const tcp::resolver::results_type& results) {
        pending->finished = true;
        pending->result.ec = rec;
        for (const auto& entry : results) pending->result.endpoints.push_back(entry.endpoint());
        pending->wake.cancel();
      });
  co_await pending->wake.async_wait(net::redirect_error(net::use_awaitable, ec));
  if (!pending->finished) {
    pending->resolver.cancel();
    co_return Resolved{{}, net::error::timed_out};
  }
  if (!pending->result.ec && pending->result.endpoints.empty())
    pending->result.ec = net::error::host_not_found;
  co_return std::move(pending->result);
}

std::string timeout_detail(std::chrono::milliseconds timeout) {
  return "timeout after " + std::to_string(timeout.count()) + " ms";
}

std::string error_detail(std::string_view stage, const boost::system::error_code& ec) {
  std::string out(stage);
  out += ": ";
  out += ec.message();
  return out;
}

}  // namespace healthsweep::clients::net
