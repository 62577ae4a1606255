// The engine's GET /events stream on a connection of its own: a chunked
// body that never ends, one JSON object per line, handed on as lines complete.
#include "clients/engine/json.hpp"
#include "clients/engine/pool.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstdio>

namespace healthsweep::clients::engine {

using namespace detail;

namespace {

// Registers the stream for stop_events() while it lives.
class StreamRegistration {
 public:
  StreamRegistration(EngineClient::Impl& impl, EventStream& stream) : impl_(impl), stream_(stream) {
    impl_.event_streams.push_back(&stream_);
  }
  ~StreamRegistration() { std::erase(impl_.event_streams, &stream_); }
  StreamRegistration(const StreamRegistration&) = delete;
  StreamRegistration& operator=(const StreamRegistration&) = delete;

 private:
  EngineClient::Impl& impl_;
  EventStream& stream_;
};

// Docker's "since": Unix seconds with an optional nanosecond fraction.
std::string unix_seconds_text(std::chrono::system_clock::time_point t) {
  const auto ns = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  char text[48];
  std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                static_cast<long long>(ns % 1'000'000'000));
  return text;
}

std::string events_target(const EngineClient::Impl& impl, const EventsQuery& query) {
  boost::json::object filters;
  filters["type"] = boost::json::array{"container"};
  boost::urls::url u;
  u.set_encoded_path(impl.versioned("/events"));
  u.params().append({"filters", boost::json::serialize(filters)});
  if (query.since) u.params().append({"since", unix_seconds_text(*query.since)});
  return std::string(u.encoded_target());
}

// label is "KEY" (any value) or "KEY=VALUE"; the engine copies a container's
// labels into the event's attributes.
bool carries_label(const EngineEvent& event, std::string_view label) {
  if (label.empty()) return true;
  const auto eq = label.find('=');
  const auto it = event.attributes.find(std::string(label.substr(0, eq)));
  if (it == event.attributes.end()) return false;
  return eq == std::string_view::npos || it->second == label.substr(eq + 1);
}

EngineResult<void> failure(boost::system::error_code ec, std::string error) {
  EngineResult<void> r;
  r.ec = ec;
  r.error = std::move(error);
  return r;
}

}  // namespace

net::awaitable<EngineResult<void>> EngineClient::Impl::follow_events(std::shared_ptr<Impl> self, EventsQuery query,
                                                                     std::function<void(const EngineEvent&)> on_event,
                                                                     std::function<void()> on_connected) {
  EventStream stream(self->ex);
  StreamRegistration registration(*self, stream);
  auto& conn = stream.conn;
  const auto aborted = [&] { return failure(net::error::operation_aborted, "engine: events: stopped"); };

  // Connecting and sending the request are bounded by the request timeout;
  // the stream itself may be silent for as long as nothing happens.
  const auto deadline = Clock::now() + self->timeout;
  if (auto ec = co_await connect(conn, self->socket_path, deadline)) {
    if (stream.stopped) co_return aborted();
    co_return failure(ec, self->fail("events: connect " + self->socket_path, ec.message()));
  }
  http::request<http::empty_body> req{http::verb::get, events_target(*self, query), 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "healthsweep/" HEALTHSWEEP_VERSION);
  boost::system::error_code ec;
  conn.stream.expires_at(deadline);
  co_await http::async_write(conn.stream, req, net::redirect_error(net::use_awaitable, ec));
  if (stream.stopped) co_return aborted();
  if (ec) co_return failure(ec, self->fail("events", ec.message()));
  conn.stream.expires_never();
  if (on_connected) on_connected();

  // Podman sends the headers only together with the first event.
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  co_await http::async_read_header(conn.stream, conn.buffer, parser, net::redirect_error(net::use_awaitable, ec));
  if (stream.stopped) co_return aborted();
  if (ec) co_return failure(ec, self->fail("events", ec.message()));

  const unsigned status = parser.get().result_int();
  const bool success = status == 200;
  std::string error_body;                 // for a non-200 answer: the engine's message
  constexpr std::size_t max_error_body = std::size_t{64} * 1024;
  EventLineBuffer lines(self->options.max_event_line);
  const auto on_line = [&](std::string_view line) {
    auto parsed = parse_event_line(line);
    if (!parsed.ok()) {
      ++self->stats.events_malformed;
      return;
    }
    if (parsed.value.type != "container" || !carries_label(parsed.value, query.label)) return;
    ++self->stats.events_received;
    if (on_event) on_event(parsed.value);
  };

  if (!success) conn.stream.expires_at(Clock::now() + self->timeout);
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some, not read: an event is handed on as soon as its line is in,
    // not when the chunk buffer is full.
    co_await http::async_read_some(conn.stream, conn.buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (stream.stopped) co_return aborted();
    if (ec) break;
    const std::string_view got(chunk, sizeof chunk - parser.get().body().size);
    if (success) {
      lines.feed(got, on_line);
    } else if (error_body.size() < max_error_body) {
      error_body.append(got.substr(0, max_error_body - error_body.size()));
    }
  }
  self->stats.events_malformed += lines.oversized_lines();
  if (!success) {
    EngineResult<void> r;
    apply_http_status(r, status, error_body, "events");
    if (r.ok()) {  // a 2xx/304 other than 200 is not a stream either
      r.ec = EngineErrc::http_error;
      r.error = "engine: events: unexpected status " + std::to_string(status);
    }
    co_return r;
  }
  if (!ec) ec = http::error::end_of_stream;  // the engine ended the response
  if (ec == http::error::end_of_stream || ec == net::error::eof)
    co_return failure(http::error::end_of_stream, "engine: events: the engine closed the stream");
  co_return failure(ec, self->fail("events", ec == beast::error::timeout ? "timed out" : ec.message()));
}

}  // namespace healthsweep::clients::engine
