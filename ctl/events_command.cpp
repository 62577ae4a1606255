// `events`: recent transitions from PostgreSQL, and `events --follow`:
// transitions as they happen. With a postgres section it LISTENs on
// healthsweep_events (the daemon NOTIFYs the target id with every insert) and
// fetches that target's new rows by id; without one it polls GET
// /admin/targets once a second and prints every change it sees, so a state
// that came and went between two polls is missed (README "healthsweepctl").
#include <boost/json/serialize.hpp>

#include <ctime>
#include <map>
#include <ostream>

#include "ctl/commands.hpp"
#include "ctl/event_store.hpp"
#include "ctl/event_view.hpp"
#include "ctl/json_fields.hpp"
#include "ctl/target_list.hpp"

namespace healthsweep::ctl {

namespace {

constexpr int recent_limit = 20;

void print(const Context& ctx, const Event& e) {
  if (ctx.options.json)
    ctx.out << boost::json::serialize(to_json(e)) << std::endl;
  else
    ctx.out << event_line(e, ctx.colour) << std::endl;  // flushed: a pipe sees each event at once
}

std::unique_ptr<EventStore> open_store(const Context& ctx, std::string& problem) {
  auto store = EventStore::open(*ctx.settings.pg_dsn, ctx.options.timeout, problem);
  if (!store) problem = "PostgreSQL: " + problem;
  return store;
}

ExitCode recent(const Context& ctx) {
  std::string problem;
  auto store = open_store(ctx, problem);
  if (!store) return ctx.fail(ExitCode::failed, problem);
  auto events = store->recent("", recent_limit, problem);
  if (!events) return ctx.fail(ExitCode::failed, "PostgreSQL: " + problem);
  if (ctx.options.json) {
    boost::json::array list;
    for (const auto& e : *events) list.push_back(to_json(e));
    ctx.out << boost::json::serialize(list) << '\n';
  } else {
    ctx.out << events_table(*events).render(ctx.colour);
  }
  return ExitCode::ok;
}

ExitCode follow_listen(const Context& ctx) {
  std::string problem;
  auto store = open_store(ctx, problem);
  if (!store) return ctx.fail(ExitCode::failed, problem);
  // LISTEN before reading the newest id: an event committed in between is
  // both above that id and notified, so none falls in a gap.
  if (!store->listen(problem)) return ctx.fail(ExitCode::failed, "PostgreSQL: LISTEN: " + problem);
  const auto start = store->max_id(problem);
  if (!start) return ctx.fail(ExitCode::failed, "PostgreSQL: " + problem);
  ctx.err << "healthsweepctl: following transitions (LISTEN healthsweep_events); Ctrl-C stops" << std::endl;
  std::map<std::string, long long> last_id;  // per target; *start until its first event
  while (!stop_requested()) {
    auto targets = store->notifications(std::chrono::seconds(1), problem);
    if (!targets) return ctx.fail(ExitCode::failed, "PostgreSQL connection lost: " + problem);
    for (const auto& target : *targets) {
      auto [it, added] = last_id.try_emplace(target, *start);
      auto events = store->after(target, it->second, problem);
      if (!events) return ctx.fail(ExitCode::failed, "PostgreSQL: " + problem);
      for (const auto& e : *events) {
        print(ctx, e);
        it->second = e.id;
      }
    }
  }
  return ExitCode::ok;
}

struct Seen {
  std::string state, since;
};

std::optional<std::map<std::string, Seen>> poll_targets(const Context& ctx, ExitCode& code) {
  const auto targets = fetch_targets(ctx, "", code);
  if (!targets) return std::nullopt;
  std::map<std::string, Seen> out;
  for (const auto& v : *targets)
    if (v.is_object())
      out[text_of(v.as_object(), "id")] = {text_of(v.as_object(), "state"), text_of(v.as_object(), "since")};
  return out;
}

ExitCode follow_poll(const Context& ctx) {
  ExitCode code = ExitCode::ok;
  auto before = poll_targets(ctx, code);
  if (!before) return code;
  ctx.err << "healthsweepctl: following transitions by polling GET /admin/targets once a second "
             "(no postgres section; a state shorter than a second can be missed); Ctrl-C stops" << std::endl;
  while (true) {
    timespec one_second{1, 0};
    ::nanosleep(&one_second, nullptr);  // a stop signal cuts it short (EINTR)
    if (stop_requested()) return ExitCode::ok;
    auto now = poll_targets(ctx, code);
    if (!now) return code;
    for (const auto& [id, seen] : *now) {
      const auto old = before->find(id);
      if (old == before->end())
        print(ctx, Event{0, id, "-", seen.state, "", "target appeared", seen.since, "{}"});
      else if (old->second.state != seen.state || old->second.since != seen.since)
        // The same state with a new `since`: it changed and came back between two polls.
        print(ctx, Event{0, id, old->second.state, seen.state, "", "", seen.since, "{}"});
    }
    for (const auto& [id, seen] : *before)
      if (!now->contains(id)) print(ctx, Event{0, id, seen.state, "-", "", "target removed", seen.since, "{}"});
    before = std::move(now);
  }
}

}  // namespace

ExitCode run_events(const Context& ctx) {
  if (!ctx.options.follow) {
    if (!ctx.settings.pg_dsn)
      return ctx.fail(ExitCode::usage, "events without --follow reads PostgreSQL, and the config has no "
                                       "postgres section (events --follow polls the admin API instead)");
    return recent(ctx);
  }
  install_stop_handlers();
  return ctx.settings.pg_dsn ? follow_listen(ctx) : follow_poll(ctx);
}

}  // namespace healthsweep::ctl
