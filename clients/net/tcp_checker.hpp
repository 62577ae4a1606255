// TCP checks of the proactive layer (targets.static[].tcp): a connect that
// succeeds within the timeout = alive; the connection is closed at once.
// A host name is resolved first (the same deadline covers both). Knows
// endpoints, not targets.
#pragma once

#include "clients/net/probe_outcome.hpp"
#include "config/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace healthsweep::clients::net {

// Outcome details: "connected to 127.0.0.1:5432", "connect: Connection
// refused", "resolve db.internal: Host not found (authoritative)",
// "timeout after 5000 ms". `at` is copied at the call.
boost::asio::awaitable<ProbeOutcome> tcp_check(boost::asio::any_io_executor ex, const config::Endpoint& at,
                                               std::chrono::milliseconds timeout);

}  // namespace healthsweep::clients::net
