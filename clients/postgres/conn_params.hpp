// What libpq is given to connect: the DSN's keywords and values, with every
// host name resolved off the loop (the deadline-bounded resolver of
// clients/net) and handed over as hostaddr=, so PQconnectPoll never blocks
// the event loop in getaddrinfo(). Multi-host DSNs (host=a,b port=1,2, with
// target_session_attrs) keep their order: each name becomes one entry per
// address, literals and socket directories stay as they are.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace healthsweep::clients::postgres {

// The DSN's keywords and values, plus hostaddr= when `host` names hosts that
// need a lookup: libpq would resolve them with a blocking getaddrinfo()
// inside PQconnectPoll, on the event loop. Asio resolves them on a thread of
// its own, within the connect timeout; libpq keeps `host` for TLS and .pgpass.
struct ConnParams {
  std::vector<std::string> keys, values;
  std::string error;
};

boost::asio::awaitable<ConnParams> connection_params(boost::asio::any_io_executor ex, const std::string& dsn,
                                                     std::chrono::milliseconds timeout);

}  // namespace healthsweep::clients::postgres
