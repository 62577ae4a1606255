// Internal to the engine client (client.cpp, events.cpp): the connection
// pool over the engine's unix socket and the raw HTTP exchange. Its slot
// limiter and stale-connection retry are the HTTP pool's (clients/http/
// slots.hpp, retry.hpp). Not for other components: it brings in Beast.
#pragma once

#include "clients/engine/client.hpp"
#include "clients/http/slots.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <string_view>


namespace healthsweep::clients::engine::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

// basic_stream gives every operation an expiry that closes the socket, which
// is our per-request timeout.
using LocalStream = beast::basic_stream<net::local::stream_protocol, net::any_io_executor,
                                        beast::unlimited_rate_policy>;

struct Connection {
  explicit Connection(const net::any_io_executor& ex) : stream(ex) {}
  LocalStream stream;
  beast::flat_buffer buffer;
  bool reused = false;  // has served a request: may have been closed by the engine meanwhile
};

struct RawResponse {
  unsigned status = 0;
  std::string body;
  std::string api_version;
  std::string server;
};

// Receives a 2xx answer's body piece by piece, in order, as it arrives (the
// answer's RawResponse::body then stays empty). Other answers are kept whole.
// The next piece is read only once the sink's awaitable is done: a sink that
// cannot keep up holds the reader back instead of piling the body up.
using BodySink = std::function<boost::asio::awaitable<void>(std::string_view)>;

// The dedicated connection of one follow_events call.
struct EventStream {
  explicit EventStream(const net::any_io_executor& ex) : conn(ex) {}
  Connection conn;
  bool stopped = false;  // stop_events() closed it
};

// Fills status.ec/error from an engine answer: 2xx and 304 (not modified,
// e.g. start of a running container) are success, the rest an EngineErrc
// with the engine's own message: "engine: inspect ws-9: 404 no such container".
void apply_http_status(engine::EngineStatus& status, unsigned http_status, std::string_view body, std::string_view op);

// The one thread that parses large list answers (client.cpp). Declared here
// so that tests can hold it busy and watch the body reader wait for it.
boost::asio::thread_pool& list_parse_thread();

}  // namespace healthsweep::clients::engine::detail

namespace healthsweep::clients::engine {

struct engine::EngineClient::Impl {
  Impl(boost::asio::any_io_executor executor, std::string path, std::string version,
       std::chrono::milliseconds request_timeout, engine::EngineClientOptions opts);

  // A pool slot held by one call, with the connection it uses (null until
  // connected, or after a failure closed it). Gives the slot back on destruction.
  struct Lease {
    explicit Lease(std::shared_ptr<Impl> owner) : impl(std::move(owner)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    std::shared_ptr<Impl> impl;
    std::unique_ptr<detail::Connection> conn;
    bool held = false;
  };

  // Waits (until deadline) for a slot; on success lease.held is true, and
  // lease.conn an idle connection if there was one.
  static boost::asio::awaitable<boost::system::error_code> acquire(Lease& lease,
                                                                   detail::Clock::time_point deadline);
  // Gives a slot back; its connection, when still open, joins the idle ones.
  void release(std::unique_ptr<detail::Connection> conn);

  // One request/response on a pooled connection, within `timeout` from now
  // (waiting for a slot included). Transport errors only; HTTP status is the caller's.
  // With on_body, a 2xx body goes there in pieces instead of into the result.
  static boost::asio::awaitable<engine::EngineResult<detail::RawResponse>> request(
      std::shared_ptr<Impl> self, detail::http::verb verb, std::string target, std::string op,
      std::chrono::milliseconds timeout, detail::BodySink on_body = {});

  static boost::asio::awaitable<engine::EngineResult<void>> follow_events(
      std::shared_ptr<Impl> self, engine::EventsQuery query, std::function<void(const engine::EngineEvent&)> on_event,
      std::function<void()> on_connected);

  // "engine: <op>: <what>"
  std::string fail(std::string_view op, std::string_view what) const;
  // Connects `conn` to the socket within deadline; a message on failure.
  static boost::asio::awaitable<boost::system::error_code> connect(detail::Connection& conn,
                                                                   const std::string& path,
                                                                   detail::Clock::time_point deadline);
  std::string versioned(std::string_view path) const { return version_prefix + std::string(path); }

  boost::asio::any_io_executor ex;
  std::string socket_path;
  std::string version_prefix;  // "/v1.41", or "" for the engine's default
  std::chrono::milliseconds timeout;
  engine::EngineClientOptions options;
  std::vector<std::unique_ptr<detail::Connection>> idle;
  clients::http::Slots slots;  // options.max_connections calls at a time, the rest wait until their deadline
  std::vector<detail::EventStream*> event_streams;  // open event streams, for stop_events()
  engine::EngineClientStats stats;
};

}  // namespace healthsweep::clients::engine
