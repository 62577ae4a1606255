// A target as the state machine knows it: what the sources say it is
// (TargetSpec), what the machine decided about it (TargetRecord, shown by
// the admin API), and what a decision produces (Transition, RemediationOrder).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "sweeps/decide/evidence.hpp"
#include "sweeps/decide/target_text.hpp"

namespace healthsweep::sweeps::decide {

enum class State : std::uint8_t { unknown, online, suspect, offline, restarting, quarantined, paused };
inline constexpr std::size_t state_count = 7;
inline constexpr std::array<State, state_count> all_states = {
    State::unknown,    State::online,      State::suspect, State::offline,
    State::restarting, State::quarantined, State::paused};

constexpr std::string_view to_string(State s) {
  switch (s) {
    case State::unknown: return "unknown";
    case State::online: return "online";
    case State::suspect: return "suspect";
    case State::offline: return "offline";
    case State::restarting: return "restarting";
    case State::quarantined: return "quarantined";
    case State::paused: return "paused";
  }
  return "?";
}

// The state SPEC section 4 spells `name`, if any (the admin API's ?state=,
// healthsweepctl's --state).
constexpr std::optional<State> state_named(std::string_view name) {
  for (auto s : all_states)
    if (to_string(s) == name) return s;
  return std::nullopt;
}

// What a previous run of the daemon left in PostgreSQL about a target
// (healthsweep_targets): StateMachine::restore() takes it up after a restart.
struct RestoredTarget {
  std::string id;
  std::uint32_t restarts = 0;  // lifetime count shown by the admin API
  bool quarantined = false;
  std::vector<std::chrono::system_clock::time_point> recent_restarts;  // the crash-loop window's restarts
};

// An HTTP or TCP check for the proactive sweep to run (TargetSpec's and
// StoredSpec's probed()).
inline bool probed(const std::string& http, const std::optional<config::Endpoint>& tcp) {
  return !http.empty() || tcp.has_value();
}
// Anything the proactive sweep looks at: a container, or a check to run.
inline bool checkable(const std::string& container, const std::string& http,
                      const std::optional<config::Endpoint>& tcp) {
  return !container.empty() || probed(http, tcp);
}

// What the sources (static config, engine label, postgres_query) say.
struct TargetSpec {
  std::string id;
  std::string container;  // empty: no engine container (a restart is impossible)
  std::string http;       // empty: no HTTP check
  std::optional<config::Endpoint> tcp;
  bool paused = false;
  // Several instances (issue 14) decide who judges the target from these:
  bool on_engine = false;  // seen on this instance's engine (engine discovery)
  std::string instance{};  // pinned to this instance id (postgres_query's third column)

  bool probed() const { return decide::probed(http, tcp); }
  bool checkable() const { return decide::checkable(container, http, tcp); }
  // A field added here goes into StoredSpec too (its constructor, full(),
  // set_checks() and same_as(), which compares field by field like this).
  bool operator==(const TargetSpec&) const = default;
};

// A TargetSpec as its record keeps it (issue 15, memory): the id and the
// flags inline; the checks, which most targets leave empty (a heartbeat
// target has none), behind one pointer that is null when they all are.
// 48 B instead of TargetSpec's 184, which brings a TargetRecord from 384 B
// to 256 at 100,000 heartbeat targets.
class StoredSpec {
 public:
  std::string id;
  bool paused = false;
  bool on_engine = false;

  StoredSpec() = default;
  explicit StoredSpec(const TargetSpec& spec);
  const std::string& container() const { return rare_ ? rare_->container : empty_; }
  const std::string& http() const { return rare_ ? rare_->http : empty_; }
  const std::optional<config::Endpoint>& tcp() const { return rare_ ? rare_->tcp : no_endpoint_; }
  const std::string& instance() const { return rare_ ? rare_->instance : empty_; }
  bool probed() const { return rare_ && decide::probed(rare_->http, rare_->tcp); }
  bool checkable() const { return rare_ && decide::checkable(rare_->container, rare_->http, rare_->tcp); }
  // What a source now says of a known target's checks (the instance stays).
  void set_checks(const TargetSpec& spec);
  // The whole spec again, for whoever needs one of its own.
  TargetSpec full() const;
  // Every field equal to `spec`'s (the instance included).
  bool same_as(const TargetSpec& spec) const;

 private:
  struct Rare {
    std::string container, http;
    std::optional<config::Endpoint> tcp;
    std::string instance;
  };
  void set_rare(const std::string& container, const std::string& http, const std::optional<config::Endpoint>& tcp,
                const std::string& instance);
  static inline const std::string empty_{};
  static inline const std::optional<config::Endpoint> no_endpoint_{};
  std::unique_ptr<Rare> rare_;
};

// One state change. The store writes one event row per transition, metrics
// count them by (from, to).
struct Transition {
  std::string target;
  State from = State::unknown;
  State to = State::unknown;
  // The evidence layer that caused it. Transitions made by the policy itself
  // (restart ordered, startup grace expired, quarantine) carry the layer of
  // the evidence that started the incident; reset carries Layer::admin.
  Layer layer = Layer::proactive;
  std::string reason;
  std::chrono::steady_clock::time_point at{};
  std::chrono::system_clock::time_point wall{};
  // Set only when evidence caused the transition: the time the fact became
  // true, for healthsweep_detection_latency_seconds (at - observed_at).
  std::optional<std::chrono::steady_clock::time_point> observed_at;
  bool added = false;    // the target appeared in a source (from == to == its first state)
  bool removed = false;  // the target left every source (to == unknown)
  bool handed_over = false;  // removed: another cluster instance judges it now
};

enum class RemediationKind : std::uint8_t { restart, webhook, mark_offline };

constexpr std::string_view to_string(RemediationKind k) {
  switch (k) {
    case RemediationKind::restart: return "restart";
    case RemediationKind::webhook: return "webhook";
    case RemediationKind::mark_offline: return "mark_offline";
  }
  return "?";
}

// What the daemon should do. restart and webhook orders are answered with
// StateMachine::remediation_result(); mark_offline needs no answer.
struct RemediationOrder {
  std::string target;
  std::string container;
  RemediationKind kind = RemediationKind::mark_offline;
  std::string reason;
  // Fail-safe active: count it (result="suppressed"), do not act on it.
  // A suppressed restart/webhook is ordered again once the fail-safe clears.
  bool suppressed = false;
};

// Everything one call into the state machine decided, in order.
struct Effects {
  std::vector<Transition> transitions;
  std::vector<RemediationOrder> orders;
  // Set when the fail-safe switched on (true) or off (false) during the call,
  // with why: the daemon logs it loudly and updates the gauge.
  std::optional<bool> failsafe_changed;
  std::string failsafe_reason;

  bool empty() const { return transitions.empty() && orders.empty() && !failsafe_changed; }
  void append(Effects&& other) {
    for (auto& t : other.transitions) transitions.push_back(std::move(t));
    for (auto& o : other.orders) orders.push_back(std::move(o));
    if (other.failsafe_changed) {
      failsafe_changed = other.failsafe_changed;
      failsafe_reason = std::move(other.failsafe_reason);
    }
  }
};

// The last evidence a layer gave about a target (SPEC section 4 "evidence"),
// as TargetRecord::evidence() hands it out.
struct LayerEvidence {
  Text reason;
  std::chrono::steady_clock::time_point at{};  // when it was submitted
  Verdict verdict = Verdict::unknown;
  bool seen = false;
};

// An optional steady time in 8 bytes, where std::optional's flag pads it to
// 16: time_point::min() stands for none. A TargetRecord holds two (issue 15,
// memory). Reads like the std::optional it replaces.
class MaybeTime {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  constexpr MaybeTime() = default;
  constexpr MaybeTime(std::nullopt_t) {}       // NOLINT(google-explicit-constructor): as optional
  constexpr MaybeTime(time_point t) : t_(t) {}  // NOLINT(google-explicit-constructor): as optional
  constexpr bool has_value() const { return t_ != none; }
  constexpr explicit operator bool() const { return has_value(); }
  constexpr time_point operator*() const { return t_; }
  constexpr void reset() { t_ = none; }
  constexpr operator std::optional<time_point>() const {  // NOLINT(google-explicit-constructor)
    return has_value() ? std::optional<time_point>(t_) : std::nullopt;
  }
  friend constexpr bool operator==(MaybeTime a, MaybeTime b) = default;
  friend constexpr bool operator==(MaybeTime a, time_point b) { return a.has_value() && a.t_ == b; }

 private:
  static constexpr time_point none = time_point::min();
  time_point t_ = none;
};

// Restart bookkeeping, allocated only for targets that were ever remediated:
// most of a healthy fleet never needs it.
struct RestartHistory {
  std::vector<std::chrono::steady_clock::time_point> recent;  // restarts within `window`
  std::chrono::steady_clock::time_point last{};               // the previous restart
  std::uint32_t in_incident = 0;  // restarts since the backoff was last reset
};

enum class DeadlineKind : std::uint8_t {
  none,
  restart_due,   // offline: the next restart (settle delay or backoff) is due
  grace_ends,    // restarting: startup grace expires
  backoff_reset  // online: online for `window`, forget the backoff
};

// One target: what GET /admin/targets shows, plus the machine's bookkeeping.
// Records are owned by the StateMachine; a pointer to one is valid until the
// next call that changes the machine.
//
// Layout: submit() touches the decision fields, the layer evidence and the
// id (the index compares it); they come first, within the first two cache
// lines of a 64-byte-aligned record. What only the admin API reads follows.
struct alignas(64) TargetRecord {
  // --- hot: every submit() ---
  State state = State::unknown;
  bool quarantined = false;
  bool live = false;                // slot in use
  bool order_in_flight = false;     // restart/webhook ordered, no remediation_result yet
  bool start_confirmed = false;     // the (re)start really happened: conclusive dead now means it failed
  bool suppressed_pending = false;  // its order was suppressed by the fail-safe; re-ordered when it clears
  DeadlineKind deadline_kind = DeadlineKind::none;
  Layer cause_layer = Layer::proactive;  // layer of the evidence that started the incident
  std::uint16_t alive_streak = 0;        // consecutive alive evidence
  std::uint16_t dead_streak = 0;         // consecutive dead evidence
  // Each layer's last evidence (passive, proactive, reactive; evidence()):
  // the verdicts and which layers gave any here, reason and time below.
  std::array<Verdict, 3> verdicts{Verdict::unknown, Verdict::unknown, Verdict::unknown};
  std::uint8_t layers_seen = 0;  // bit 1 << layer
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;  // bumped when the slot is freed
  struct LastEvidence {
    Text reason;
    std::chrono::steady_clock::time_point at{};  // when it was submitted
  };
  std::array<LastEvidence, 3> last_evidence;
  StoredSpec spec;

  // --- shown by the admin API, changed on transitions ---
  std::uint32_t restarts = 0;  // restarts ordered since it appeared or was reset
  std::chrono::steady_clock::time_point since{};
  std::chrono::system_clock::time_point since_wall{};
  Text reason;
  MaybeTime last_heartbeat;  // last passive alive

  // --- bookkeeping; read-only for everyone but the state machine ---
  std::chrono::steady_clock::time_point deadline{};
  std::chrono::steady_clock::time_point started_at{};  // start confirmed at (stale-evidence guard)
  MaybeTime last_down;  // last entry into offline/quarantined
  std::unique_ptr<RestartHistory> history;

  // What `layer` said last (nothing seen for Layer::admin, which gives no evidence).
  LayerEvidence evidence(Layer layer) const {
    const auto i = static_cast<std::size_t>(layer);
    if (i >= last_evidence.size() || !(layers_seen & (1U << i))) return {};
    return {last_evidence[i].reason, last_evidence[i].at, verdicts[i], true};
  }
};
// Three cache lines, the hot part in the first two: 256 B before the
// evidence's verdicts and two optional times were packed into padding
// (100,000 targets: 6.1 MiB less).
static_assert(sizeof(TargetRecord) == 192);

}  // namespace healthsweep::sweeps::decide
