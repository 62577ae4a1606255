#include "sweeps/decide/remediation_policy.hpp"

#include <algorithm>
#include <cstdio>

namespace healthsweep::sweeps::decide {

RemediationKind remediation_kind(const config::Restart& restart, std::string_view container) {
  if (!restart.enabled) return RemediationKind::mark_offline;
  switch (restart.via) {
    case config::RestartVia::engine:
      return container.empty() ? RemediationKind::mark_offline : RemediationKind::restart;
    case config::RestartVia::webhook: return RemediationKind::webhook;
    case config::RestartVia::none: return RemediationKind::mark_offline;
  }
  return RemediationKind::mark_offline;
}

config::Duration backoff_delay(const config::Restart& restart, std::uint32_t restarts_in_incident) {
  if (restarts_in_incident == 0) return config::Duration::zero();
  const config::Duration cap = std::max(restart.backoff_max, restart.backoff_initial);
  config::Duration delay = restart.backoff_initial;
  for (std::uint32_t i = 1; i < restarts_in_incident && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

SteadyTime restart_due(const RestartHistory* history, SteadyTime offline_at, config::Duration settle,
                       const config::Restart& restart) {
  SteadyTime due = offline_at + settle;
  if (history && history->in_incident > 0)
    due = std::max(due, history->last + backoff_delay(restart, history->in_incident));
  return due;
}

bool crash_loop(RestartHistory* history, SteadyTime now, const config::Restart& restart) {
  if (restart.max_restarts <= 0) return true;
  if (!history) return false;
  auto& recent = history->recent;
  recent.erase(std::remove_if(recent.begin(), recent.end(),
                              [&](SteadyTime t) { return !DownWindow::in_window(t, now, restart.window); }),
               recent.end());
  return recent.size() >= static_cast<std::size_t>(restart.max_restarts);
}

std::string format_duration(config::Duration d) {
  using namespace std::chrono;
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  auto s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

namespace {

bool above(std::size_t count, std::size_t total, double fraction) {
  return total > 0 && static_cast<double>(count) / static_cast<double>(total) > fraction;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", fraction * 100.0);
  return buf;
}

// "40%", "33.3%", "30.1%": three digits, so a share just above the limit
// does not read as equal to it.
std::string share(std::size_t count, std::size_t total) {
  const double pct = total > 0 ? 100.0 * static_cast<double>(count) / static_cast<double>(total) : 0.0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%%", pct);
  return buf;
}

// The fleet the rules apply to: this instance's targets plus its peers'.
// Peers publish only how many of their targets are offline *now*, not when
// each went down; each of those counts both as offline now and as gone
// offline within the window. That is the conservative reading: it can only
// trip the fail-safe sooner or hold it longer than the peers' full history
// would, never let a restart through that the history would have held. Its
// cost: targets that have stayed offline on a peer for long (a slow decline,
// which alone never trips) count as a fresh burst here.
struct Totals {
  std::size_t targets = 0, down_in_window = 0, offline_now = 0;
};

Totals totals(const FleetSnapshot& fleet) {
  return {fleet.targets + fleet.peers.targets, fleet.down_in_window + fleet.peers.offline,
          fleet.offline_now + fleet.peers.offline};
}

std::string local_reason(const config::FailSafe& cfg, const FleetSnapshot& fleet, bool active) {
  const std::string of = " of " + std::to_string(fleet.targets) + " targets";
  const std::string limit = " (max " + percent(cfg.max_offline_fraction) + ")";
  if (active)
    return std::to_string(fleet.down_in_window) + of + " went offline within " + format_duration(cfg.window) +
           limit;
  return "recovered: " + std::to_string(fleet.offline_now) + of + " offline, " +
         std::to_string(fleet.down_in_window) + " went offline within " + format_duration(cfg.window) + limit;
}

// With peers, the reason says the fleet decided, and what this instance saw
// itself: a host with few failures of its own that pauses must say why.
std::string fleet_reason(const config::FailSafe& cfg, const FleetSnapshot& fleet, bool active) {
  const Totals all = totals(fleet);
  const std::size_t counted = active ? all.down_in_window : all.offline_now;
  const std::string whole = "fleet: " + std::to_string(counted) + " of " + std::to_string(all.targets) +
                            " targets offline (" + share(counted, all.targets) + ") across " +
                            std::to_string(fleet.peers.instances + 1) + " instances (max " +
                            percent(cfg.max_offline_fraction) + "); here ";
  const std::string here = std::to_string(fleet.targets);
  const std::string window = format_duration(cfg.window);
  if (active)
    return whole + std::to_string(fleet.down_in_window) + " of " + here + " went offline within " + window;
  return "recovered: " + whole + std::to_string(fleet.offline_now) + " of " + here + " offline, " +
         std::to_string(fleet.down_in_window) + " went offline within " + window;
}

}  // namespace

FailSafeDecision decide_failsafe(const config::FailSafe& cfg, const FleetSnapshot& fleet, bool was_active) {
  const Totals all = totals(fleet);
  const bool source_down = !fleet.unhealthy_source.empty();
  const bool big_enough = all.targets >= static_cast<std::size_t>(std::max(cfg.min_targets, 0));
  const bool tripped = big_enough && above(all.down_in_window, all.targets, cfg.max_offline_fraction);
  // Once tripped, a fleet that is still largely down is not restarted all at
  // once just because the window slid past the moment it went down.
  const bool held = was_active && big_enough && above(all.offline_now, all.targets, cfg.max_offline_fraction);
  const bool active = source_down || tripped || held;
  if (active == was_active) return {active, {}};  // hot path: no strings

  if (source_down) return {true, "evidence source " + std::string(fleet.unhealthy_source) + " unhealthy"};
  if (fleet.peers.instances > 0) return {active, fleet_reason(cfg, fleet, active)};
  return {active, local_reason(cfg, fleet, active)};
}

}  // namespace healthsweep::sweeps::decide
