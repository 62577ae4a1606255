#include "clients/engine/json.hpp"
#include "clients/scratch_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
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

// One answer's document (an inspect, an event, an error): the loop parses
// thousands a second (a reactive check is an inspect: 4,000/s in the fleet
// benchmark). 8 KiB holds a Podman inspect (4.4 KB).
using ScratchDocument = clients::ScratchDocument<std::size_t{8} * 1024>;

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
  ScratchDocument scratch;
  const auto v = scratch.parse(body, ec);
  if (!ec)
    if (const auto* o = v.if_object())
      if (const auto m = string_at(*o, "message"); !m.empty()) return std::string(m);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.remove_suffix(1);
  constexpr std::size_t max_len = 200;
  if (body.size() > max_len) return std::string(body.substr(0, max_len)) + "...";
  return std::string(body);
}

namespace {

// The container list read as it streams in, SAX (json::basic_parser),
// keeping only what a ContainerSummary holds. Building the document first
// held about 27 MiB for the seconds of each sweep's list of 11,200
// containers (issue 15's memory goal; bench/BENCHMARKS.md "Memory").
// It gives what reading the document gave: the last of duplicate keys
// counts (as boost::json's object keeps), the first element of Names if it
// is a string, Labels' string values; a structural error stops the parse.
class ListHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit ListHandler(std::optional<std::vector<std::string>> labels_kept)
      : labels_kept_(std::move(labels_kept)) {}

  std::vector<ContainerSummary> list;
  std::string error;  // structural (the JSON itself was fine so far)

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code& ec) {
    if (depth_ == 0) return ++depth_, true;
    return container_begins(/*object=*/false, ec);
  }
  bool on_object_begin(json::error_code& ec) {
    if (depth_ == 1) {
      entry_ = ContainerSummary{};
      return ++depth_, true;
    }
    return container_begins(/*object=*/true, ec);
  }
  bool on_array_end(std::size_t, json::error_code&) { return container_ends(), true; }
  bool on_object_end(std::size_t, json::error_code& ec) {
    container_ends();
    if (depth_ != 1) return true;
    if (entry_.id.empty()) return fail("container list entry without Id", ec);
    entry_.health = health_from_status_text(entry_.status);
    list.push_back(std::move(entry_));
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (key_wanted()) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (!key_wanted()) return true;
    key_.append(s.data(), s.size());
    if (depth_ == 2) field_ = field_named(key_);
    else label_key_ = key_;
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (string_wanted()) string_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (string_wanted()) string_.append(s.data(), s.size());
    const bool ok = string_value(ec);
    string_.clear();
    return ok;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code& ec) { return other_scalar(ec); }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code& ec) { return other_scalar(ec); }
  bool on_double(double, json::string_view, json::error_code& ec) { return other_scalar(ec); }
  bool on_bool(bool, json::error_code& ec) { return other_scalar(ec); }
  bool on_null(json::error_code& ec) { return other_scalar(ec); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // Depth 0: the document; 1: in the list; 2: in an entry (field_ names
  // the key whose value comes); 3: in the value of Names or Labels when it
  // is the container they should be; deeper values are skipped.
  enum class Field : std::uint8_t { other, id, names, state, status, labels };
  static Field field_named(std::string_view key) {
    if (key == "Id") return Field::id;
    if (key == "Names") return Field::names;
    if (key == "State") return Field::state;
    if (key == "Status") return Field::status;
    if (key == "Labels") return Field::labels;
    return Field::other;
  }

  bool fail(const char* what, json::error_code& ec) {
    error = what;
    ec = json::error::exception;  // any error: stops the parser; `error` says which
    return false;
  }
  bool not_in_list(json::error_code& ec) {
    return fail(depth_ == 0 ? "container list is not a JSON array" : "container list entry is not an object", ec);
  }
  bool key_wanted() const { return depth_ == 2 || (depth_ == 3 && in_labels_); }
  bool string_wanted() const {
    if (depth_ == 2) return field_ == Field::id || field_ == Field::state || field_ == Field::status;
    return depth_ == 3 && ((in_names_ && names_seen_ == 0) || (in_labels_ && label_kept()));
  }
  bool label_kept() const {
    return !labels_kept_ || std::find(labels_kept_->begin(), labels_kept_->end(), label_key_) != labels_kept_->end();
  }
  // A value of the entry's field_ starts: it replaces what an earlier
  // duplicate of the key gave.
  void field_value_starts() {
    switch (field_) {
      case Field::id: entry_.id.clear(); break;
      case Field::names: entry_.name.clear(); break;
      case Field::state: entry_.state.clear(); break;
      case Field::status: entry_.status.clear(); break;
      case Field::labels: entry_.labels.clear(); break;
      case Field::other: break;
    }
  }
  // An element of Names or a value in Labels that is not a string.
  void not_a_string_in_field() {
    if (in_names_) ++names_seen_;
    if (in_labels_) entry_.labels.erase(label_key_);
  }
  bool container_begins(bool object, json::error_code& ec) {
    if (depth_ < 2) return not_in_list(ec);
    if (depth_ == 2) {
      field_value_starts();
      in_names_ = !object && field_ == Field::names;
      in_labels_ = object && field_ == Field::labels;
      names_seen_ = 0;
    } else if (depth_ == 3) {
      not_a_string_in_field();
    }
    ++depth_;
    return true;
  }
  void container_ends() {
    --depth_;
    if (depth_ == 2) in_names_ = in_labels_ = false;
  }
  bool string_value(json::error_code& ec) {
    if (depth_ < 2) return not_in_list(ec);
    if (depth_ == 2) {
      field_value_starts();
      if (field_ == Field::id) entry_.id = string_;
      else if (field_ == Field::state) entry_.state = string_;
      else if (field_ == Field::status) entry_.status = string_;
    } else if (depth_ == 3) {
      if (in_names_ && names_seen_++ == 0) entry_.name = strip_slash(string_);
      if (in_labels_ && label_kept()) entry_.labels.insert_or_assign(label_key_, string_);
    }
    return true;
  }
  bool other_scalar(json::error_code& ec) {
    if (depth_ < 2) return not_in_list(ec);
    if (depth_ == 2) field_value_starts();
    else if (depth_ == 3) not_a_string_in_field();
    return true;
  }

  std::size_t depth_ = 0;
  Field field_ = Field::other;
  bool in_names_ = false, in_labels_ = false;
  std::size_t names_seen_ = 0;
  std::string key_, label_key_, string_;
  ContainerSummary entry_;
  std::optional<std::vector<std::string>> labels_kept_;  // nullopt: every label
};

}  // namespace

struct ContainerListParser::State {
  explicit State(std::optional<std::vector<std::string>> labels_kept)
      : parser(json::parse_options{}, std::move(labels_kept)) {}
  json::basic_parser<ListHandler> parser;
  json::error_code ec;  // the first error; later pieces are ignored
  std::size_t fed = 0;
};

ContainerListParser::ContainerListParser(std::optional<std::vector<std::string>> labels_kept)
    : state_(std::make_unique<State>(std::move(labels_kept))) {}
ContainerListParser::~ContainerListParser() = default;
ContainerListParser::ContainerListParser(ContainerListParser&&) noexcept = default;
ContainerListParser& ContainerListParser::operator=(ContainerListParser&&) noexcept = default;

void ContainerListParser::feed(std::string_view bytes) {
  auto& s = *state_;
  s.fed += bytes.size();
  if (s.ec || bytes.empty()) return;
  const auto n = s.parser.write_some(true, bytes.data(), bytes.size(), s.ec);
  if (!s.ec && n < bytes.size()) s.ec = json::error::extra_data;  // as stream_parser::write says it
}

std::size_t ContainerListParser::fed() const { return state_->fed; }

EngineResult<std::vector<ContainerSummary>> ContainerListParser::finish() {
  using Result = EngineResult<std::vector<ContainerSummary>>;
  auto& s = *state_;
  if (!s.ec) s.parser.write_some(false, nullptr, 0, s.ec);
  auto& handler = s.parser.handler();
  if (!handler.error.empty()) return bad<Result::value_type>(handler.error);
  if (s.ec) return bad<Result::value_type>("container list is not JSON: " + s.ec.message());
  Result r;
  r.value = std::move(handler.list);
  return r;
}

EngineResult<std::vector<ContainerSummary>> parse_container_list(std::string_view text) {
  ContainerListParser p;
  p.feed(text);
  return p.finish();
}

EngineResult<EngineIdentity> parse_identity(std::string_view text) {
  boost::system::error_code ec;
  ScratchDocument scratch;
  const auto doc = scratch.parse(text, ec);
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
  ScratchDocument scratch;
  const auto doc = scratch.parse(text, ec);
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
  ScratchDocument scratch;
  const auto doc = scratch.parse(line, ec);
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
