#include "clients/engine/json.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <limits>

namespace healthsweep::clients::engine {

namespace json = boost::json;

namespace {

class EngineCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "healthsweep.engine"; }
  std::string message(int ev) const override {
    switch (static_cast<EngineErrc>(ev)) {
      case EngineErrc::bad_response: return "engine answer not understood";
      case EngineErrc::not_found: return "no such container";
      case EngineErrc::conflict: return "conflict";
      case EngineErrc::bad_request: return "bad request";
      case EngineErrc::server_error: return "engine server error";
      case EngineErrc::http_error: return "unexpected HTTP status";
    }
    return "engine error";
  }
};

std::string_view string_at(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key))
    if (const auto* s = v->if_string()) return *s;
  return {};
}

// Integers may come as int64, uint64 or (from some encoders) double.
std::int64_t int_at(const json::object& o, std::string_view key, std::int64_t fallback = 0) {
  const auto* v = o.if_contains(key);
  if (!v) return fallback;
  if (const auto* i = v->if_int64()) return *i;
  if (const auto* u = v->if_uint64())
    return *u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(*u);
  if (const auto* d = v->if_double()) {
    if (!(*d >= -9.2e18 && *d <= 9.2e18)) return fallback;  // also rejects NaN
    return static_cast<std::int64_t>(*d);
  }
  return fallback;
}

int small_int_at(const json::object& o, std::string_view key) {
  const auto v = int_at(o, key);
  if (v > std::numeric_limits<int>::max()) return std::numeric_limits<int>::max();
  if (v < std::numeric_limits<int>::min()) return std::numeric_limits<int>::min();
  return static_cast<int>(v);
}

bool bool_at(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key))
    if (const auto* b = v->if_bool()) return *b;
  return false;
}

const json::object* object_at(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key)) return v->if_object();
  return nullptr;
}

// Labels and attributes: string values only (null, as Podman sends for no
// labels, is an empty map).
void string_map_at(const json::object& o, std::string_view key, std::map<std::string, std::string>& out) {
  const auto* m = object_at(o, key);
  if (!m) return;
  for (const auto& kv : *m)
    if (const auto* s = kv.value().if_string()) out.emplace(std::string(kv.key()), std::string(*s));
}

std::string strip_slash(std::string_view name) {
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  return std::string(name);
}

template <class T>
EngineResult<T> bad(std::string what) {
  EngineResult<T> r;
  r.ec = EngineErrc::bad_response;
  r.error = "engine: " + std::move(what);
  return r;
}

std::optional<int> parse_int(std::string_view text) {
  int v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

const boost::system::error_category& engine_category() noexcept {
  static const EngineCategory category;
  return category;
}

boost::system::error_code make_error_code(EngineErrc e) noexcept {
  return {static_cast<int>(e), engine_category()};
}

std::string health_from_status_text(std::string_view status) {
  if (status.find("(unhealthy)") != std::string_view::npos) return "unhealthy";
  if (status.find("(healthy)") != std::string_view::npos) return "healthy";
  if (status.find("(health: starting)") != std::string_view::npos) return "starting";
  return {};
}

std::string engine_error_message(std::string_view body) {
  boost::system::error_code ec;
  const auto v = json::parse(body, ec);
  if (!ec)
    if (const auto* o = v.if_object())
      if (const auto m = string_at(*o, "message"); !m.empty()) return std::string(m);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.remove_suffix(1);
  constexpr std::size_t max_len = 200;
  if (body.size() > max_len) return std::string(body.substr(0, max_len)) + "...";
  return std::string(body);
}

struct ContainerListParser::State {
  // The whole document is dropped after the walk: a monotonic arena makes
  // the parse a few large allocations instead of one per value. Declared
  // before the parser, which holds values in it.
  json::monotonic_resource arena;
  json::stream_parser parser;
  boost::system::error_code ec;  // the first error; later pieces are ignored
  std::size_t fed = 0;
};

ContainerListParser::ContainerListParser() : state_(std::make_unique<State>()) {
  state_->parser.reset(json::storage_ptr(&state_->arena));
}
ContainerListParser::~ContainerListParser() = default;
ContainerListParser::ContainerListParser(ContainerListParser&&) noexcept = default;
ContainerListParser& ContainerListParser::operator=(ContainerListParser&&) noexcept = default;

void ContainerListParser::feed(std::string_view bytes) {
  state_->fed += bytes.size();
  if (state_->ec || bytes.empty()) return;
  state_->parser.write(bytes.data(), bytes.size(), state_->ec);
}

std::size_t ContainerListParser::fed() const { return state_->fed; }

EngineResult<std::vector<ContainerSummary>> ContainerListParser::finish() {
  using Result = EngineResult<std::vector<ContainerSummary>>;
  auto& s = *state_;
  if (!s.ec) s.parser.finish(s.ec);
  if (s.ec) return bad<Result::value_type>("container list is not JSON: " + s.ec.message());
  const json::value doc = s.parser.release();
  const auto* array = doc.if_array();
  if (!array) return bad<Result::value_type>("container list is not a JSON array");
  Result r;
  r.value.reserve(array->size());
  for (const auto& item : *array) {
    const auto* c = item.if_object();
    if (!c) return bad<Result::value_type>("container list entry is not an object");
    ContainerSummary summary;
    summary.id = string_at(*c, "Id");
    if (summary.id.empty()) return bad<Result::value_type>("container list entry without Id");
    if (const auto* names = c->if_contains("Names"))
      if (const auto* arr = names->if_array(); arr && !arr->empty())
        if (const auto* first = arr->front().if_string()) summary.name = strip_slash(*first);
    summary.state = string_at(*c, "State");
    summary.status = string_at(*c, "Status");
    summary.health = health_from_status_text(summary.status);
    string_map_at(*c, "Labels", summary.labels);
    r.value.push_back(std::move(summary));
  }
  return r;
}

EngineResult<std::vector<ContainerSummary>> parse_container_list(std::string_view text) {
  ContainerListParser p;
  p.feed(text);
  return p.finish();
}

EngineResult<EngineIdentity> parse_identity(std::string_view text) {
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec) return bad<EngineIdentity>("info is not JSON: " + ec.message());
  const auto* o = doc.if_object();
  if (!o) return bad<EngineIdentity>("info is not a JSON object");
  EngineResult<EngineIdentity> r;
  r.value.id = string_at(*o, "ID");
  r.value.name = string_at(*o, "Name");
  r.value.root = string_at(*o, "DockerRootDir");
  if (r.value.id.empty() && r.value.name.empty()) return bad<EngineIdentity>("info without ID and Name");
  return r;
}

EngineResult<ContainerInfo> parse_inspect(std::string_view text) {
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec) return bad<ContainerInfo>("container inspect is not JSON: " + ec.message());
  const auto* c = doc.if_object();
  if (!c) return bad<ContainerInfo>("container inspect is not a JSON object");
  EngineResult<ContainerInfo> r;
  auto& info = r.value;
  info.id = string_at(*c, "Id");
  if (info.id.empty()) return bad<ContainerInfo>("container inspect without Id");
  info.name = strip_slash(string_at(*c, "Name"));
  info.restart_count = small_int_at(*c, "RestartCount");
  const auto* state = object_at(*c, "State");
  if (!state) return bad<ContainerInfo>("container inspect without State");
  info.status = string_at(*state, "Status");
  info.running = bool_at(*state, "Running");
  info.restarting = bool_at(*state, "Restarting");
  info.oom_killed = bool_at(*state, "OOMKilled");
  info.exit_code = small_int_at(*state, "ExitCode");
  info.pid = small_int_at(*state, "Pid");
  info.started_at = string_at(*state, "StartedAt");
  info.finished_at = string_at(*state, "FinishedAt");
  info.error = string_at(*state, "Error");
  if (const auto* health = object_at(*state, "Health")) {
    info.health = string_at(*health, "Status");
    info.failing_streak = small_int_at(*health, "FailingStreak");
  }
  if (const auto* config = object_at(*c, "Config")) string_map_at(*config, "Labels", info.labels);
  return r;
}

EngineResult<EngineEvent> parse_event_line(std::string_view line) {
  boost::system::error_code ec;
  const auto doc = json::parse(line, ec);
  if (ec) return bad<EngineEvent>("event is not JSON: " + ec.message());
  const auto* o = doc.if_object();
  if (!o) return bad<EngineEvent>("event is not a JSON object");
  EngineResult<EngineEvent> r;
  auto& e = r.value;
  e.type = string_at(*o, "Type");
  std::string_view action = string_at(*o, "Action");
  if (action.empty()) action = string_at(*o, "status");  // API < 1.22 wrote only "status"
  // Docker writes "health_status: unhealthy" and "exec_start: sh -c ...".
  if (const auto colon = action.find(": "); colon != std::string_view::npos) {
    if (action.substr(0, colon) == "health_status") e.health = std::string(action.substr(colon + 2));
    action = action.substr(0, colon);
  }
  // Checked after the cut: ": starting)" is no action either (fuzz_engine_json).
  if (action.empty()) return bad<EngineEvent>("event without Action");
  e.action = std::string(action);
  if (const auto podman_health = string_at(*o, "HealthStatus"); !podman_health.empty())
    e.health = std::string(podman_health);
  if (const auto* actor = object_at(*o, "Actor")) {
    e.id = string_at(*actor, "ID");
    string_map_at(*actor, "Attributes", e.attributes);
  }
  if (e.id.empty()) e.id = string_at(*o, "id");
  if (const auto it = e.attributes.find("name"); it != e.attributes.end()) e.name = it->second;
  for (const char* key : {"exitCode", "containerExitCode"})
    if (const auto it = e.attributes.find(key); it != e.attributes.end()) {
      e.exit_code = parse_int(it->second);
      break;
    }
  std::int64_t nanos = int_at(*o, "timeNano");
  if (nanos == 0) {
    const auto seconds = int_at(*o, "time");
    constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;
    nanos = (seconds > limit || seconds < -limit) ? 0 : seconds * 1'000'000'000;
  }
  e.time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos)));
  return r;
}

}  // namespace healthsweep::clients::engine
