// Remediation policy: pure rules the state machine applies when a target is
// down. What to do (restart, webhook, only mark), when (settle delay, crash-
// loop backoff), when to give up (quarantine), and when to do nothing at all
// because the fleet or an evidence source looks broken (fail-safe).
//
// Rules, in SPEC section 3 terms:
// - kind: via engine => restart when the target has a container, else
//   mark_offline; via webhook => webhook; via none or enabled:false =>
//   mark_offline. mark_offline is emitted at once; restart and webhook are
//   "acting" orders, subject to everything below.
// - settle (remediation.restart.settle, default 2s, 0s allowed): an acting
//   order is emitted no earlier than `settle` after the target went offline,
//   so targets that die together (10 containers killed at once, a burst of
//   expired heartbeats) are seen together by the fail-safe before anything
//   is restarted.
// - backoff: the first restart of an incident is due at once (after settle);
//   the n-th (n >= 2) is due backoff_initial * 2^(n-2), capped at backoff_max,
//   after the previous restart.
// - quarantine: at most max_restarts restarts within `window`; a target that
//   needs one more is quarantined instead (no orders until reset).
// - backoff reset: after a target stayed online for `window`, its incident is
//   over: backoff and restart history are forgotten.
// - fail-safe: active when more than max_offline_fraction of the (non-paused)
//   targets went offline within fail_safe.window and the fleet has at least
//   min_targets, or when an evidence source is unhealthy. Once active it stays
//   active while either the in-window share or the share of targets offline
//   now is above the fraction, or a source is unhealthy.
// - fleet-wide (several instances, issue 14): the counts the live peers
//   published with their leases join this instance's, so the fraction and
//   min_targets apply to the whole fleet: a rollout that kills 40 % of the
//   workspaces spread thinly over ten hosts stops remediation on all of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps::decide {

using SteadyTime = std::chrono::steady_clock::time_point;

// What entering offline asks for, given the configuration and the target's
// container ("" for none).
RemediationKind remediation_kind(const config::Restart& restart, std::string_view container);

// restart and webhook act on the target and put it into `restarting`.
constexpr bool acts(RemediationKind kind) { return kind != RemediationKind::mark_offline; }

// Delay after the previous restart before the next one, given how many
// restarts this incident already had (0 => no delay).
config::Duration backoff_delay(const config::Restart& restart, std::uint32_t restarts_in_incident);

// When the next acting order for a target that went offline at `offline_at` is due.
SteadyTime restart_due(const RestartHistory* history, SteadyTime offline_at, config::Duration settle,
                       const config::Restart& restart);

// Drops restarts older than `window` and says whether one more restart would
// exceed max_restarts within the window.
bool crash_loop(RestartHistory* history, SteadyTime now, const config::Restart& restart);

// "250ms", "30s", "10m", "1h30m": for reasons shown to people.
std::string format_duration(config::Duration d);

// What the other live instances of a cluster published with their last
// lease renewal (cluster/membership.hpp): the targets each owns and how many
// of them are offline now. This instance is never among them.
struct PeerCounts {
  std::size_t targets = 0;
  std::size_t offline = 0;
  std::size_t instances = 0;  // live peers summed
  bool operator==(const PeerCounts&) const = default;
};

// The fleet as the fail-safe sees it.
struct FleetSnapshot {
  std::size_t targets = 0;         // targets that can be remediated (not paused)
  std::size_t down_in_window = 0;  // of them, went offline within fail_safe.window
  std::size_t offline_now = 0;     // of them, offline now
  std::string_view unhealthy_source;  // empty: every source healthy
  PeerCounts peers{};              // the rest of the fleet; none when alone
};

struct FailSafeDecision {
  bool active = false;
  std::string reason;  // filled only when `active` differs from was_active (for the log line)
};

// Cheap when nothing changes: called after every state change.
FailSafeDecision decide_failsafe(const config::FailSafe& cfg, const FleetSnapshot& fleet, bool was_active);

// Targets that went down within the fail-safe window, each counted once
// however often it went down. Entries name a target slot; `is_current(entry)`
// tells whether the entry is still that target's latest (a target that went
// down again, or was removed, leaves stale entries that are skipped).
class DownWindow {
 public:
  struct Entry {
    SteadyTime at;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  // Call expire(now) first. `previous` is the target's previous down time.
  void add(const Entry& entry, std::optional<SteadyTime> previous, SteadyTime now, config::Duration window) {
    if (!previous || !in_window(*previous, now, window)) ++count_;
    entries_.push_back(entry);
  }

  // A removed or paused target that went down within the window no longer counts.
  void forget(std::optional<SteadyTime> last_down, SteadyTime now, config::Duration window) {
    if (last_down && in_window(*last_down, now, window) && count_ > 0) --count_;
  }

  template <class IsCurrent>
  void expire(SteadyTime now, config::Duration window, IsCurrent&& is_current) {
    if (window != window_) {  // reconfigured: count again under the new window
      window_ = window;
      count_ = 0;
      for (const Entry& e : entries_)
        if (in_window(e.at, now, window) && is_current(e)) ++count_;
    }
    while (!entries_.empty() && !in_window(entries_.front().at, now, window)) {
      if (is_current(entries_.front()) && count_ > 0) --count_;
      entries_.pop_front();
    }
  }

  std::size_t count() const { return count_; }
  // Whether expire(now) would drop an entry (cheap: one comparison).
  bool expires_by(SteadyTime now) const {
    return !entries_.empty() && !in_window(entries_.front().at, now, window_);
  }
  // When the oldest entry leaves the window (the count may then drop).
  std::optional<SteadyTime> next_expiry() const {
    if (entries_.empty()) return std::nullopt;
    return entries_.front().at + window_;
  }

  static bool in_window(SteadyTime at, SteadyTime now, config::Duration window) { return at > now - window; }

 private:
  std::deque<Entry> entries_;
  std::size_t count_ = 0;
  config::Duration window_{-1};
};

}  // namespace healthsweep::sweeps::decide
