// A thin client of the Docker Engine API (Docker, or Podman's compatible
// service) over its unix socket. It knows containers, not targets.
//
// Every call is a coroutine on the executor given at construction and
// returns its errors as values (EngineResult: ec + a one-line message).
// Request/response calls share a small pool of keep-alive connections
// (at most max_connections at once; more callers wait, within their own
// deadline, for a free one); the event stream has a connection of its own.
#pragma once

#include "clients/engine/types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace healthsweep::clients::engine {

struct EngineClientOptions {
  std::size_t max_connections = 8;                 // pool cap for request/response calls
  std::size_t max_body_bytes = std::size_t{128} * 1024 * 1024;  // a 1,000-container list is ~1 MB
  std::size_t max_event_line = std::size_t{1024} * 1024;
  // A list answer is parsed as it arrives, in pieces of at most 64 KiB on the
  // loop; one at least this large is then walked into summaries (and its
  // document freed) on the client's parse thread, not on the loop: for 10,000
  // containers that walk alone is several ms, more than a loop turn may hold
  // (issue 15: <= 5 ms at once). Smaller answers finish in place (no thread hop).
  std::size_t parse_off_loop_bytes = std::size_t{256} * 1024;
};

// ListQuery and EventsQuery have constructors on purpose: g++ 12 destroys a
// braced *aggregate* temporary inside a co_await expression twice
// (`co_await engine.list(Aggregate{...})` crashes); a class with a
// constructor is not affected.
struct ListQuery {
  ListQuery() = default;
  explicit ListQuery(std::string label_key, bool all_containers = true, std::string health_filter = {})
      : label(std::move(label_key)), all(all_containers), health(std::move(health_filter)) {}

  std::string label;   // filter label=KEY (or KEY=VALUE); "" = every container
  bool all = true;     // also stopped ones
  std::string health;  // filter health=healthy|unhealthy|starting|none; "" = no filter
  // The only labels the summaries keep (see ContainerListParser); nullopt:
  // every label. At 10,000 containers every label kept is ~10,000 more
  // small blocks made and freed per list.
  std::optional<std::vector<std::string>> labels;
  // The answer is awaited until the request timeout or this, whichever is
  // sooner (a sweep's deadline).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct EventsQuery {
  EventsQuery() = default;
  explicit EventsQuery(std::string label_key,
                       std::optional<std::chrono::system_clock::time_point> replay_since = std::nullopt)
      : label(std::move(label_key)), since(replay_since) {}

  // Only events of containers carrying this label (KEY or KEY=VALUE) reach
  // on_event. Filtered here, not by the engine: Podman's events endpoint
  // matches a label filter only as KEY=VALUE (podman issue #26702).
  std::string label;
  // Replay events from this time on. Podman sends the response headers only
  // with the first event, so "connected" can only mean "request sent": pass
  // the time of the last event seen (or the time before connecting) so that
  // nothing between a reconnect and the engine's subscription is lost.
  std::optional<std::chrono::system_clock::time_point> since;
};

struct EngineClientStats {
  std::uint64_t requests_sent = 0;       // request/response calls written (retries included)
  std::uint64_t connections_opened = 0;  // pool connections (not event streams)
  std::uint64_t events_received = 0;     // events handed to on_event
  std::uint64_t events_malformed = 0;    // stream lines that were not an event
  std::uint64_t parsed_off_loop = 0;     // list answers parsed on the parse thread
  std::uint64_t list_reader_waits = 0;   // times a list's reader waited for the parse thread to catch up
};

class EngineClient {
 public:
  EngineClient(boost::asio::any_io_executor ex, std::string socket_path, std::string api_version,
               std::chrono::milliseconds request_timeout, EngineClientOptions options = {});
  ~EngineClient();
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  // GET /_ping.
  boost::asio::awaitable<EngineResult<EnginePing>> ping();

  // GET /{v}/containers/json?all=1&filters={"label":[KEY]}: one call for the fleet.
  boost::asio::awaitable<EngineResult<std::vector<ContainerSummary>>> list(std::string_view label_key,
                                                                            bool all = true);
  boost::asio::awaitable<EngineResult<std::vector<ContainerSummary>>> list(ListQuery query);

  // list(), plus health for engines that do not write it into the Status
  // text (Podman): when no running container shows health there, three more
  // fleet-wide calls with filters health=unhealthy|starting|healthy fill it in.
  // `labels`: as ListQuery::labels.
  boost::asio::awaitable<EngineResult<std::vector<ContainerSummary>>> list_with_health(
      std::string_view label_key,
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
      std::optional<std::vector<std::string>> labels = std::nullopt);

  // GET /{v}/info (twice): the engine's ID and host name (EngineIdentity).
  boost::asio::awaitable<EngineResult<EngineIdentity>> identity();

  // GET /{v}/containers/{id}/json; an unknown container is ec == EngineErrc::not_found.
  boost::asio::awaitable<EngineResult<ContainerInfo>> inspect(std::string_view id_or_name);

  // POST /{v}/containers/{id}/restart?t=stop_timeout_s. The call may take
  // stop_timeout_s longer than the request timeout.
  boost::asio::awaitable<EngineResult<void>> restart(std::string_view id_or_name, int stop_timeout_s);

  // POST /{v}/containers/{id}/start. Already running (304) is success, with http_status 304.
  boost::asio::awaitable<EngineResult<void>> start(std::string_view id_or_name);

  // Follows GET /{v}/events (filters type=container) until the stream ends,
  // fails, is cancelled (per-operation cancellation, e.g. `||` with a timer)
  // or stop_events() is called; never returns ok(): the result says why it
  // ended (the engine closing the stream is http::error::end_of_stream,
  // stop_events()/cancellation operation_aborted, an HTTP error the engine's
  // message). on_connected runs once the request is on the wire, on_event for
  // each container event carrying the label, in order, as each line arrives.
  // Reconnecting (with backoff, `since` = last event time) is the caller's loop.
  boost::asio::awaitable<EngineResult<void>> follow_events(EventsQuery query,
                                                           std::function<void(const EngineEvent&)> on_event,
                                                           std::function<void()> on_connected = {});
  boost::asio::awaitable<EngineResult<void>> follow_events(std::string_view label_key,
                                                           std::function<void(const EngineEvent&)> on_event,
                                                           std::function<void()> on_connected = {});

  // Ends every event stream of this client (follow_events returns operation_aborted).
  void stop_events();
  // Closes idle pooled connections; calls in flight finish normally.
  void close_idle();

  void set_timeout(std::chrono::milliseconds request_timeout);
  std::chrono::milliseconds timeout() const;
  const std::string& socket_path() const;

  std::uint64_t requests_sent() const;
  EngineClientStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with calls in flight
};

}  // namespace healthsweep::clients::engine
