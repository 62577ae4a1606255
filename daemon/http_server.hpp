// The one HTTP listener (admin, metrics, hooks): one coroutine per connection,
// keep-alive, requests answered strictly in order (pipelining-safe), bounded
// header and body sizes, a whole-request read deadline against slow clients,
// a cap on open connections per client address and in all.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "daemon/http_types.hpp"

namespace healthsweep::daemon {

struct HttpLimits {
  std::size_t header_limit = std::size_t{8} * 1024;  // 431 beyond
  std::size_t body_limit = std::size_t{64} * 1024;   // 413 beyond
  // A request (headers and body) must arrive within this; an idle keep-alive
  // connection is closed after it too. A client trickling one byte a second
  // (slowloris) is dropped when it runs out, whatever it sent so far.
  std::chrono::milliseconds read_timeout{10000};
  // At this many open connections the one that has waited longest for a
  // request (idle or trickling) is closed to make room for the new one, so
  // a flood of idle connections never locks a fresh client out.
  std::size_t max_connections = 1024;
  // Connections from one client address beyond this are closed at once:
  // one client cannot take the listener from the others (Prometheus).
  std::size_t max_connections_per_client = 64;
};

// What the listener tells the rest of the daemon (all optional).
struct HttpEvents {
  // The listener answered a request itself, before any route (400 bad
  // framing, 413 body too large, 431 header too large). `target` is the
  // request-target from the request line, empty when none could be read.
  std::function<void(std::string_view target, int status)> answered_itself;
  // A connection was closed by the listener's own rules: "per_client_cap",
  // "evicted" (the longest-waiting one at max_connections), "cap" (none to evict).
  std::function<void(std::string_view reason)> connection_refused;
};

using Handler = std::function<Reply(Request&&)>;

// Why a request header is refused before parsing (request smuggling shapes
// that the parser would otherwise accept or repair): nullopt when fine.
// `header` is the raw header block, request line to blank line.
std::optional<std::string> framing_problem(std::string_view header);
// The request-target of a raw request line ("POST /x HTTP/1.1" -> "/x"), or
// empty when the line is not complete.
std::string_view raw_request_target(std::string_view raw);

class HttpServer {
 public:
  // Binds and listens at once (throws std::system_error with a clear message
  // when it cannot: a startup problem); serving starts with start().
  HttpServer(boost::asio::any_io_executor ex, const config::Endpoint& at, Handler handler,
             HttpLimits limits = {}, HttpEvents events = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  // Stops accepting and closes idle connections; requests being answered finish.
  void stop();
  std::string local_address() const;  // "127.0.0.1:9470", with the real port when 0 was asked
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::daemon
