// The engine client's calls: each builds a URL, does one exchange on the
// pool (engine_pool.cpp) and parses the answer (engine_json.cpp).
#include "clients/engine/client.hpp"

#include "clients/engine/json.hpp"
#include "clients/engine/pool.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <unordered_map>
#include <utility>

namespace healthsweep::clients::engine {

using namespace detail;
using Impl = EngineClient::Impl;

// One thread for parsing large list answers, made at the first one (most
// daemons never list more than a few hundred containers). Process-wide and
// never destroyed before exit: no client's teardown can end up joining the
// thread it runs on.
net::thread_pool& detail::list_parse_thread() {
  static net::thread_pool pool(1);
  return pool;
}

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

// What the loop learns from the parse thread (a piece parsed, a list
// finished) it learns by polling, not by a wake-up posted from there: a
// post, and the copy of the loop's executor it needs, may outlive the loop's
// io_context (a list given up mid-answer leaves pieces queued; a co_spawn
// onto the parse thread released its copy after handing the result back,
// and ASan saw that after a test's io_context was gone). A flag or a count
// cannot. A 64 KiB piece takes the parse thread a few hundred µs: a poll
// every 500 µs keeps four queued pieces ahead of it.
constexpr auto parse_poll = std::chrono::microseconds(500);

template <class Done>
net::awaitable<void> poll_until(const Done& done) {
  if (done()) co_return;
  const auto loop = co_await net::this_coro::executor;
  net::steady_timer nap(loop);
  while (!done()) {
    nap.expires_after(parse_poll);
    co_await nap.async_wait(net::use_awaitable);
  }
}

// Where a list answer's pieces are parsed: on the loop while the answer is
// small (no thread hop), and from parse_off_loop_bytes on, on the parse
// thread — each piece copied (64 KiB, microseconds) and queued there in
// order, so the loop only reads the socket. Measured (bench_engine_list,
// issue 15): parsing the pieces of a 10,000-container answer on the loop
// held it more than the whole-body read it replaced.
//
// At most max_waiting pieces wait for the parse thread: beyond that the body
// reader waits too. Without the bound a loop that reads faster than the
// parse thread parses (the loop under SCHED_FIFO, the parse thread with no
// core free) queued the whole answer in copies, megabytes at once.
//
// The reader learns of parsed pieces by polling a count (poll_until).
class ListBodySink {
 public:
  static constexpr std::size_t max_waiting = 4;

  // waits: counts each time the reader waits for the parse thread.
  ListBodySink(std::size_t off_loop_from, std::optional<std::vector<std::string>> labels_kept, std::uint64_t& waits)
      : waits_(waits),
        off_loop_from_(off_loop_from),
        parser_(std::make_shared<ContainerListParser>(std::move(labels_kept))),
        parsed_(std::make_shared<std::atomic<std::size_t>>(0)) {}

  net::awaitable<void> feed(std::string_view piece) {
    fed_ += piece.size();
    if (!off_loop_ && fed_ >= off_loop_from_) off_loop_ = true;
    if (!off_loop_) {
      parser_->feed(piece);
      co_return;
    }
    // The parse thread is one thread: pieces are parsed in the order queued,
    // and the parser is touched by the loop no more once the first is.
    ++queued_;
    net::post(list_parse_thread(), [parser = parser_, bytes = std::string(piece), parsed = parsed_] {
      parser->feed(bytes);
      parsed->fetch_add(1, std::memory_order_relaxed);
    });
    if (!backlogged()) co_return;
    ++waits_;
    const auto caught_up = [this] { return !backlogged(); };
    co_await poll_until(caught_up);
  }
  bool off_loop() const { return off_loop_; }
  // Finish it on the loop only when !off_loop(); otherwise on the parse thread.
  const std::shared_ptr<ContainerListParser>& parser() const { return parser_; }
  std::shared_ptr<ContainerListParser> take_parser() { return std::move(parser_); }

 private:
  bool backlogged() const { return queued_ - parsed_->load(std::memory_order_relaxed) > max_waiting; }

  std::uint64_t& waits_;
  std::size_t off_loop_from_;
  std::size_t fed_ = 0;
  std::size_t queued_ = 0;
  bool off_loop_ = false;
  std::shared_ptr<ContainerListParser> parser_;
  std::shared_ptr<std::atomic<std::size_t>> parsed_;  // pieces the parse thread is done with
};

// A list finished on the parse thread: `result` is the loop's to take once
// `ready` is set.
struct FinishedList {
  std::atomic<bool> ready{false};
  EngineResult<std::vector<ContainerSummary>> result;
};

// An origin-form request target: prefix + path segments (each percent-encoded)
// + query parameters (encoded by Boost.URL).
std::string make_target(std::string_view prefix, std::initializer_list<std::string_view> segments,
                        const Params& params = {}) {
  boost::urls::url u;
  u.set_encoded_path(prefix.empty() ? std::string_view("/") : prefix);
  for (const auto segment : segments) u.segments().push_back(segment);
  for (const auto& [key, value] : params) u.params().append({key, value});
  return std::string(u.encoded_target());
}

std::string filters_json(std::string_view label, std::string_view health) {
  boost::json::object filters;
  if (!label.empty()) filters["label"] = boost::json::array{boost::json::string(label)};
  if (!health.empty()) filters["health"] = boost::json::array{boost::json::string(health)};
  return boost::json::serialize(filters);
}

template <class T>
EngineResult<T> failed_like(const EngineStatus& status) {
  EngineResult<T> r;
  static_cast<EngineStatus&>(r) = status;
  return r;
}

// Runs one call; an exception (a cancelled caller's next co_await throws
// operation_aborted) becomes an error result, as every other failure is.
template <class T>
net::awaitable<EngineResult<T>> guarded(std::string op, net::awaitable<EngineResult<T>> call) {
  EngineResult<T> r;
  try {
    r = co_await std::move(call);
  } catch (const boost::system::system_error& e) {
    r = {};
    r.ec = e.code();
    r.error = "engine: " + op + ": " + e.code().message();
  }
  co_return r;
}

net::awaitable<EngineResult<EnginePing>> do_ping(std::shared_ptr<Impl> self) {
  std::string target = "/_ping", op = "ping";
  auto raw = co_await Impl::request(self, http::verb::get, std::move(target), std::move(op), self->timeout);
  auto r = failed_like<EnginePing>(raw);
  if (!raw.ok()) co_return r;
  apply_http_status(r, raw.value.status, raw.value.body, "ping");
  r.value.api_version = std::move(raw.value.api_version);
  r.value.server = std::move(raw.value.server);
  co_return r;
}

net::awaitable<EngineResult<std::vector<ContainerSummary>>> do_list(std::shared_ptr<Impl> self, ListQuery q) {
  using Result = EngineResult<std::vector<ContainerSummary>>;
  Params params;
  if (q.all) params.emplace_back("all", "1");
  if (!q.label.empty() || !q.health.empty()) params.emplace_back("filters", filters_json(q.label, q.health));
  std::string target = make_target(self->versioned("/containers/json"), {}, params), op = "list";
  auto timeout = self->timeout;
  if (q.deadline != std::chrono::steady_clock::time_point::max())
    timeout = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                             q.deadline - std::chrono::steady_clock::now()),
                         std::chrono::milliseconds(1), timeout);
  // The body is parsed as it arrives, piece by piece (at most 64 KiB each):
  // no copy of the whole answer is ever made, and no turn parses it all.
  ListBodySink sink(self->options.parse_off_loop_bytes, std::move(q.labels), self->stats.list_reader_waits);
  BodySink on_body = [&sink](std::string_view piece) { return sink.feed(piece); };
  auto raw = co_await Impl::request(self, http::verb::get, std::move(target), std::move(op), timeout, std::move(on_body));
  auto r = failed_like<Result::value_type>(raw);
  if (!raw.ok()) co_return r;
  apply_http_status(r, raw.value.status, raw.value.body, "list");
  if (!r.ok()) co_return r;
  Result parsed;
  if (sink.off_loop()) {
    ++self->stats.parsed_off_loop;
    // Queued behind the pieces on the parse thread; the walk into summaries
    // and the document's release happen there too, and the result comes
    // back through `done`, which the loop polls (poll_until).
    auto done = std::make_shared<FinishedList>();
    net::post(list_parse_thread(), [parser = sink.take_parser(), done]() mutable {
      auto mine = std::move(parser);  // the last owner: the document is freed here, on the parse thread
      done->result = mine->finish();
      mine.reset();
      done->ready.store(true, std::memory_order_release);
    });
    const auto finished = [&done] { return done->ready.load(std::memory_order_acquire); };
    co_await poll_until(finished);
    parsed = std::move(done->result);
  } else {
    parsed = sink.parser()->finish();
  }
  parsed.http_status = raw.value.status;
  if (!parsed.ok()) parsed.error = "engine: list: " + parsed.error.substr(std::string_view("engine: ").size());
  co_return parsed;
}

net::awaitable<EngineResult<std::vector<ContainerSummary>>> do_list_with_health(
    std::shared_ptr<Impl> self, std::string label, std::chrono::steady_clock::time_point deadline,
    std::optional<std::vector<std::string>> labels) {
  ListQuery everything{label, true};
  everything.deadline = deadline;
  everything.labels = std::move(labels);
  auto r = co_await do_list(self, std::move(everything));
  if (!r.ok()) co_return r;
  bool any_running = false;
  for (const auto& c : r.value) {
    if (!c.health.empty()) co_return r;  // the engine reports health in Status (Docker)
    any_running = any_running || c.state == "running";
  }
  if (!any_running) co_return r;
  std::unordered_map<std::string_view, ContainerSummary*> by_id;
  for (auto& c : r.value) by_id.emplace(c.id, &c);
  for (const char* health : {"unhealthy", "starting", "healthy"}) {
    ListQuery only_health{label, true, health};
    only_health.deadline = deadline;
    only_health.labels.emplace();  // only the ids are read
    auto part = co_await do_list(self, std::move(only_health));
    if (!part.ok()) co_return part;
    for (const auto& c : part.value)
      if (auto it = by_id.find(c.id); it != by_id.end()) it->second->health = health;
  }
  co_return r;
}

net::awaitable<EngineResult<ContainerInfo>> do_inspect(std::shared_ptr<Impl> self, std::string id) {
  const auto target = make_target(self->versioned("/containers"), {id, "json"});
  const auto op = "inspect " + id;
  auto raw = co_await Impl::request(self, http::verb::get, target, op, self->timeout);
  auto r = failed_like<ContainerInfo>(raw);
  if (!raw.ok()) co_return r;
  apply_http_status(r, raw.value.status, raw.value.body, op);
  if (!r.ok()) co_return r;
  auto parsed = parse_inspect(raw.value.body);
  parsed.http_status = raw.value.status;
  if (!parsed.ok()) parsed.error = "engine: " + op + ": " + parsed.error.substr(std::string_view("engine: ").size());
  co_return parsed;
}

net::awaitable<EngineResult<EngineIdentity>> do_info(std::shared_ptr<Impl> self) {
  std::string target = self->versioned("/info"), op = "info";
  auto raw = co_await Impl::request(self, http::verb::get, std::move(target), std::move(op), self->timeout);
  auto r = failed_like<EngineIdentity>(raw);
  if (!raw.ok()) co_return r;
  apply_http_status(r, raw.value.status, raw.value.body, "info");
  if (!r.ok()) co_return r;
  auto parsed = parse_identity(raw.value.body);
  parsed.http_status = raw.value.status;
  co_return parsed;
}

// Asked twice: an ID that changes between calls (Podman) names nothing.
net::awaitable<EngineResult<EngineIdentity>> do_identity(std::shared_ptr<Impl> self) {
  auto first = co_await do_info(self);
  if (!first.ok()) co_return first;
  auto second = co_await do_info(self);
  if (!second.ok()) co_return second;
  if (second.value.id != first.value.id || second.value.id.empty()) second.value.id = "root:" + second.value.root;
  co_return second;
}

net::awaitable<EngineResult<void>> do_post(std::shared_ptr<Impl> self, std::string id, std::string action,
                                           Params params, std::chrono::milliseconds timeout) {
  const auto target = make_target(self->versioned("/containers"), {id, action}, params);
  const auto op = action + " " + id;
  auto raw = co_await Impl::request(self, http::verb::post, target, op, timeout);
  auto r = failed_like<void>(raw);
  if (!raw.ok()) co_return r;
  apply_http_status(r, raw.value.status, raw.value.body, op);
  co_return r;
}

}  // namespace

EngineClient::EngineClient(net::any_io_executor ex, std::string socket_path, std::string api_version,
                           std::chrono::milliseconds request_timeout, EngineClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(socket_path), std::move(api_version), request_timeout,
                                   options)) {}

EngineClient::~EngineClient() {
  stop_events();
  close_idle();
}

net::awaitable<EngineResult<EnginePing>> EngineClient::ping() { return guarded("ping", do_ping(impl_)); }

net::awaitable<EngineResult<std::vector<ContainerSummary>>> EngineClient::list(std::string_view label_key, bool all) {
  return list(ListQuery{std::string(label_key), all});
}

net::awaitable<EngineResult<std::vector<ContainerSummary>>> EngineClient::list(ListQuery query) {
  return guarded("list", do_list(impl_, std::move(query)));
}

net::awaitable<EngineResult<std::vector<ContainerSummary>>> EngineClient::list_with_health(
    std::string_view label_key, std::chrono::steady_clock::time_point deadline,
    std::optional<std::vector<std::string>> labels) {
  return guarded("list", do_list_with_health(impl_, std::string(label_key), deadline, std::move(labels)));
}

net::awaitable<EngineResult<ContainerInfo>> EngineClient::inspect(std::string_view id_or_name) {
  return guarded("inspect " + std::string(id_or_name), do_inspect(impl_, std::string(id_or_name)));
}

net::awaitable<EngineResult<EngineIdentity>> EngineClient::identity() {
  return guarded("info", do_identity(impl_));
}

net::awaitable<EngineResult<void>> EngineClient::restart(std::string_view id_or_name, int stop_timeout_s) {
  const auto stop = std::chrono::seconds(std::max(stop_timeout_s, 0));
  return guarded("restart " + std::string(id_or_name),
                 do_post(impl_, std::string(id_or_name), "restart", {{"t", std::to_string(stop.count())}},
                         impl_->timeout + std::chrono::duration_cast<std::chrono::milliseconds>(stop)));
}

net::awaitable<EngineResult<void>> EngineClient::start(std::string_view id_or_name) {
  return guarded("start " + std::string(id_or_name),
                 do_post(impl_, std::string(id_or_name), "start", {}, impl_->timeout));
}

net::awaitable<EngineResult<void>> EngineClient::follow_events(EventsQuery query,
                                                               std::function<void(const EngineEvent&)> on_event,
                                                               std::function<void()> on_connected) {
  return guarded("events", Impl::follow_events(impl_, std::move(query), std::move(on_event), std::move(on_connected)));
}

net::awaitable<EngineResult<void>> EngineClient::follow_events(std::string_view label_key,
                                                               std::function<void(const EngineEvent&)> on_event,
                                                               std::function<void()> on_connected) {
  return follow_events(EventsQuery{std::string(label_key)}, std::move(on_event),
                       std::move(on_connected));
}

void EngineClient::stop_events() {
  for (auto* stream : impl_->event_streams) {
    stream->stopped = true;
    boost::system::error_code ignored;
    stream->conn.stream.socket().close(ignored);
  }
}

void EngineClient::close_idle() { impl_->idle.clear(); }

void EngineClient::set_timeout(std::chrono::milliseconds request_timeout) { impl_->timeout = request_timeout; }
std::chrono::milliseconds EngineClient::timeout() const { return impl_->timeout; }
const std::string& EngineClient::socket_path() const { return impl_->socket_path; }
std::uint64_t EngineClient::requests_sent() const { return impl_->stats.requests_sent; }
EngineClientStats EngineClient::stats() const { return impl_->stats; }

}  // namespace healthsweep::clients::engine
