#include "clients/net/tcp_checker.hpp"

#include "clients/net/resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <sstream>

namespace healthsweep::clients::net {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

net::awaitable<ProbeOutcome> run_tcp_check(net::any_io_executor ex, config::Endpoint at,
                                           std::chrono::milliseconds timeout) {
  ProbeOutcome outcome;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const auto finish = [&](std::string detail, const boost::system::error_code& ec = {}) {
    const bool late = ec == beast::error::timeout || ec == net::error::timed_out || Clock::now() >= deadline;
    outcome.detail = ec && late ? timeout_detail(timeout) : std::move(detail);
    outcome.elapsed = Clock::now() - start;
    return outcome;
  };

  auto resolved = co_await resolve(ex, at.host, at.port, deadline);
  if (resolved.ec) co_return finish(error_detail("resolve " + at.host, resolved.ec), resolved.ec);

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  auto [ec, endpoint] = co_await stream.async_connect(resolved.endpoints, net::as_tuple(net::use_awaitable));
  if (ec) co_return finish(error_detail("connect", ec), ec);

  boost::system::error_code ignored;
  stream.socket().close(ignored);
  outcome.alive = true;
  std::ostringstream where;
  where << "connected to " << endpoint;
  co_return finish(where.str());
}

}  // namespace

net::awaitable<ProbeOutcome> tcp_check(net::any_io_executor ex, const config::Endpoint& at,
                                       std::chrono::milliseconds timeout) {
  return run_tcp_check(std::move(ex), at, timeout);  // copies `at` before the caller's may go
}

}  // namespace healthsweep::clients::net
