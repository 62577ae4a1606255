// `targets` (GET /admin/targets, a table like `kubectl get`) and `target ID`
// (GET /admin/targets/ID, every layer's evidence, and its recent events from
// PostgreSQL when the config has a postgres section).
#include <boost/json/serialize.hpp>

#include <array>
#include <ostream>

#include "ctl/commands.hpp"
#include "ctl/event_store.hpp"
#include "ctl/event_view.hpp"
#include "ctl/json_fields.hpp"
#include "ctl/table.hpp"
#include "ctl/target_list.hpp"

namespace healthsweep::ctl {

namespace {

constexpr std::array<std::string_view, 3> layers{"passive", "proactive", "reactive"};
constexpr int recent_events = 10;

// Whether a target passes --state and --layer. The state is filtered here too,
// so a daemon that ignores ?state= gives the same answer.
bool wanted(const Options& o, const boost::json::object& target) {
  if (!o.state.empty() && text_of(target, "state") != o.state) return false;
  if (!o.layer.empty() && evidence_of(target, o.layer).empty()) return false;
  return true;
}

std::string indented(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out += "  " + text.substr(start, end - start + 1);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// The events part of `target ID`: nullopt without a postgres section, an
// empty array with a warning when PostgreSQL cannot be read.
std::optional<std::vector<Event>> events_of(const Context& ctx, const std::string& id, std::string& problem) {
  if (!ctx.settings.pg_dsn) return std::nullopt;
  auto store = EventStore::open(*ctx.settings.pg_dsn, ctx.options.timeout, problem);
  if (!store) return std::vector<Event>{};
  auto events = store->recent(id, recent_events, problem);
  return events ? std::move(*events) : std::vector<Event>{};
}

}  // namespace

ExitCode run_targets(const Context& ctx) {
  // ?state= asks the daemon to filter; wanted() filters again below.
  ExitCode code = ExitCode::ok;
  const auto targets = fetch_targets(ctx, ctx.options.state, code);
  if (!targets) return code;

  boost::json::array kept;
  for (const auto& t : *targets)
    if (t.is_object() && wanted(ctx.options, t.as_object())) kept.push_back(t);
  if (ctx.options.json) {
    ctx.out << boost::json::serialize(kept) << '\n';
    return ExitCode::ok;
  }
  if (kept.empty()) {
    ctx.err << "No targets found." << std::endl;
    return ExitCode::ok;
  }
  const auto now = std::chrono::system_clock::now();
  const std::string evidence_header = ctx.options.layer.empty() ? "LAST EVIDENCE" : "EVIDENCE (" + ctx.options.layer + ")";
  Table table({"ID", "STATE", "SINCE", "RESTARTS", evidence_header});
  for (const auto& v : kept) {
    const auto& t = v.as_object();
    const std::string state = text_of(t, "state");
    // Without --layer: the reason of the last state change, which names the
    // evidence that caused it ("heartbeat expired").
    std::string evidence = ctx.options.layer.empty() ? text_of(t, "reason", "") : evidence_of(t, ctx.options.layer);
    table.add({{text_of(t, "id")},
               {state, state_colour(state)},
               {age_since(text_of(t, "since"), now)},
               {std::to_string(integer_of(t, "restarts"))},
               {evidence.empty() ? "-" : evidence}});
  }
  ctx.out << table.render(ctx.colour);
  return ExitCode::ok;
}

ExitCode run_target(const Context& ctx) {
  const Reply reply = ctx.admin.get(target_path(ctx.options.id));
  if (reply.reached && reply.status == 404)
    return ctx.fail(ExitCode::failed, "unknown target '" + ctx.options.id + "'");
  if (!reply.success()) return ctx.fail(reply);
  auto body = ctx.json_body(reply);
  if (!body) return ExitCode::failed;
  if (!body->is_object()) return ctx.fail(ExitCode::failed, "the daemon's answer is not a JSON object");
  auto& t = body->as_object();

  std::string problem;
  const auto events = events_of(ctx, ctx.options.id, problem);
  if (ctx.options.json) {
    // The text form says it in its Events line; JSON has no place for it.
    if (!problem.empty()) ctx.err << "healthsweepctl: events from PostgreSQL unavailable: " << problem << std::endl;
    if (events && problem.empty()) {
      boost::json::array list;
      for (const auto& e : *events) list.push_back(to_json(e));
      t["events"] = std::move(list);
    }
    ctx.out << boost::json::serialize(t) << '\n';
    return ExitCode::ok;
  }

  const auto now = std::chrono::system_clock::now();
  const std::string state = text_of(t, "state");
  const std::string since = text_of(t, "since");
  const std::string heartbeat = text_of(t, "last_heartbeat");
  auto& out = ctx.out;
  out << "ID:             " << text_of(t, "id") << '\n'
      << "State:          " << paint(state, state_colour(state), ctx.colour) << " for " << age_since(since, now)
      << " (since " << since << ")\n"
      << "Reason:         " << text_of(t, "reason") << '\n'
      << "Container:      " << text_of(t, "container") << '\n'
      << "Last heartbeat: " << heartbeat << (heartbeat == "-" ? "" : " (" + age_since(heartbeat, now) + " ago)") << '\n'
      << "Restarts:       " << integer_of(t, "restarts") << '\n';
  const auto* quarantined = t.if_contains("quarantined");
  out << "Quarantined:    " << (quarantined && quarantined->is_bool() && quarantined->as_bool() ? "yes" : "no") << '\n';
  if (t.contains("owner")) out << "Owner:          " << text_of(t, "owner") << '\n';

  Table evidence({"LAYER", "LAST EVIDENCE"});
  for (auto layer : layers) {
    const std::string e = evidence_of(t, layer);
    evidence.add({{std::string(layer)}, {e.empty() ? "-" : e}});
  }
  out << "Evidence:\n" << indented(evidence.render(ctx.colour));
  if (!problem.empty())
    out << "Events:         unavailable (PostgreSQL: " << problem << ")\n";
  else if (!events)
    out << "Events:         - (no postgres section in the config)\n";
  else if (events->empty())
    out << "Events:         none recorded\n";
  else
    out << "Events (newest last):\n" << indented(events_table(*events).render(ctx.colour));
  return ExitCode::ok;
}

}  // namespace healthsweep::ctl
