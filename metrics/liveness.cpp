#include "metrics/liveness.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "metrics/time_format.hpp"

namespace healthsweep::metrics {

namespace {
// Boost.JSON prints every double in exponent form (60 -> 6E1); whole numbers
// go out as integers so people reading the endpoint see 60, not 6E1.
boost::json::value seconds_value(double s) {
  const double ms = std::round(s * 1000.0);
  if (std::fmod(ms, 1000.0) == 0.0) return static_cast<std::int64_t>(ms / 1000.0);
  return ms / 1000.0;
}
}  // namespace

std::string_view to_string(Subsystem s) {
  switch (s) {
    case Subsystem::passive: return "passive";
    case Subsystem::proactive: return "proactive";
    case Subsystem::reactive: return "reactive";
    case Subsystem::redis: return "redis";
    case Subsystem::engine: return "engine";
    case Subsystem::store: return "store";
    case Subsystem::cluster: return "cluster";
  }
  return "?";
}

std::string_view to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::stale: return "stale";
    case Status::disabled: return "disabled";
  }
  return "?";
}

void LivenessRegistry::enable(Subsystem s, std::chrono::milliseconds stale_after,
                              steady::time_point now) {
  auto& e = entries_[static_cast<std::size_t>(s)];
  if (!e.enabled) {  // re-enabling on reload keeps the record of the last tick
    e.since = now;
    e.last_tick_wall.reset();
  }
  e.enabled = true;
  e.stale_after = stale_after;
}

void LivenessRegistry::disable(Subsystem s) {
  entries_[static_cast<std::size_t>(s)].enabled = false;
}

bool LivenessRegistry::enabled(Subsystem s) const {
  return entries_[static_cast<std::size_t>(s)].enabled;
}

void LivenessRegistry::tick(Subsystem s, steady::time_point now, system::time_point wall) {
  auto& e = entries_[static_cast<std::size_t>(s)];
  e.since = now;
  e.last_tick_wall = wall;
}

bool LivenessRegistry::fresh(const Entry& e, steady::time_point now) const {
  return !e.enabled || now - e.since <= e.stale_after;
}

LivenessView LivenessRegistry::view(steady::time_point now, system::time_point) const {
  LivenessView v{Status::ok, {}};
  for (std::size_t i = 0; i < subsystem_count; ++i) {
    const auto& e = entries_[i];
    const double age = std::chrono::duration<double>(now - e.since).count();
    const Status st = !e.enabled ? Status::disabled : (fresh(e, now) ? Status::ok : Status::stale);
    if (st == Status::stale) v.status = Status::stale;
    v.subsystems[i] = SubsystemView{all_subsystems[i], st, e.last_tick_wall,
                                    e.enabled ? age : 0.0,
                                    std::chrono::duration<double>(e.stale_after).count()};
  }
  return v;
}

bool LivenessRegistry::all_fresh(steady::time_point now) const {
  for (const auto& e : entries_)
    if (!fresh(e, now)) return false;
  return true;
}

void LivenessRegistry::watch_loop(Subsystem s, std::chrono::milliseconds budget, steady::time_point now) {
  auto& e = entries_[static_cast<std::size_t>(s)];
  if (!e.loop_budget) e.loop_since = now;
  e.loop_budget = budget;
}

void LivenessRegistry::loop_tick(Subsystem s, steady::time_point now) {
  entries_[static_cast<std::size_t>(s)].loop_since = now;
}

std::optional<Subsystem> LivenessRegistry::late_loop(steady::time_point now) const {
  for (std::size_t i = 0; i < subsystem_count; ++i) {
    const auto& e = entries_[i];
    if (e.enabled && e.loop_budget && now - e.loop_since > *e.loop_budget) return all_subsystems[i];
  }
  return std::nullopt;
}

std::string to_json(const LivenessView& view) {
  boost::json::object subs;
  for (const auto& s : view.subsystems) {
    boost::json::object o;
    o["status"] = to_string(s.status);
    if (s.last_tick)
      o["last_tick"] = format_rfc3339_ms(*s.last_tick);
    else
      o["last_tick"] = nullptr;
    o["age_seconds"] = seconds_value(s.age_seconds);
    o["stale_after_seconds"] = seconds_value(s.stale_after_seconds);
    subs[to_string(s.subsystem)] = std::move(o);
  }
  boost::json::object root;
  root["status"] = to_string(view.status);
  root["subsystems"] = std::move(subs);
  return boost::json::serialize(root);
}

}  // namespace healthsweep::metrics
