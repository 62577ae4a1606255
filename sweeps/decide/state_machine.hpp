// The one place where target state changes. Pure: no I/O, no clock reads but
// the injectable wall clock for stored timestamps; every call gets `now` and
// returns what it decided (Effects). The daemon applies the effects
// (remediation, store, metrics) and arms one timer for next_deadline().
//
// Every call first advances time to `now` (deadlines that fell due run in
// time order), then applies its input, then runs what became due at `now`.
//
// Evidence (submit):
// - Every piece is recorded per layer (verdict, reason, time) for the target
//   object; passive alive evidence sets last_heartbeat (its observed_at, or
//   now when unset). Layer::admin evidence is applied but not recorded.
// - unknown verdicts change nothing else.
// - Streaks are per target across layers: alive resets the dead streak and
//   vice versa. Layers should report one verdict per check (the proactive
//   layer folds engine state and HTTP check into one).
// - Inconclusive dead: unknown/online -> suspect; dead_streak reaching
//   failure_threshold -> offline. Conclusive dead: -> offline at once.
// - Alive: alive_streak reaching success_threshold -> online (from unknown,
//   suspect, offline or restarting).
// - paused targets record evidence and never change state or get orders.
// - A quarantined target that proves alive goes online but stays quarantined
//   (no orders) until reset(); when it goes down again its state is
//   `quarantined`, not `offline`.
//
// Remediation (policy rules in remediation_policy.hpp):
// - Entering offline: mark_offline is ordered at once; restart/webhook are
//   due after the settle delay, or the crash-loop backoff after the previous
//   restart, whichever is later; a target that already had max_restarts
//   restarts within `window` is quarantined instead.
// - When an acting order goes out the target is `restarting` (restarts + 1)
//   with a startup-grace deadline. Meanwhile inconclusive dead and unknown
//   evidence never trigger another restart. Alive (success_threshold) ->
//   online. Conclusive dead after the start was confirmed (remediation_result
//   ok for an engine restart, or begin_grace) and observed after it ->
//   offline "failed start: ...". Grace expiry -> offline "failed start: not
//   alive within ...". remediation_result(ok=false) -> offline with the error.
//   Each is followed by the next restart (backoff) or quarantine. Conclusive
//   dead before the start is confirmed (the engine stopping the container as
//   part of the restart) is only recorded.
// - After a target stayed online for `window` its backoff and restart
//   history are forgotten (restarts, the lifetime count, stays).
// - The fail-safe counts the peers' targets too (set_peer_counts): the
//   fraction applies to the whole fleet of a cluster.
// - While the fail-safe is active, orders are emitted with suppressed=true
//   (counted, not acted on); a suppressed restart/webhook is ordered again
//   (subject to backoff) once the fail-safe clears. Effects::failsafe_changed
//   says when it switches, with the reason for the log line.
// - Transitions made by the policy (restart ordered, failed start,
//   quarantine) carry the layer of the evidence that started the incident
//   and no observed_at; registry changes and reset() carry Layer::admin.
//
// Targets: upsert() of a new id emits a Transition with added=true (state
// unknown, or paused); remove() emits one with removed=true (to = unknown).
// Pausing moves any state to paused; unpausing to unknown.
//
// Scale: targets live in stable slots, ids are indexed by hash, reasons are
// interned, and all deadlines of the fleet are in one heap (stale entries
// are skipped lazily), so submit() is O(1) and tick() O(due log n).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "config/config.hpp"
#include "sweeps/decide/evidence.hpp"
#include "sweeps/decide/remediation_policy.hpp"
#include "sweeps/decide/target.hpp"
#include "sweeps/decide/target_text.hpp"

namespace healthsweep::sweeps::decide {

class StateMachine {
 public:
  using steady = std::chrono::steady_clock;
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  explicit StateMachine(const config::Config& config, WallClock wall_clock = &std::chrono::system_clock::now);
  StateMachine(const StateMachine&) = delete;
  StateMachine& operator=(const StateMachine&) = delete;
  ~StateMachine();

  // SIGHUP: thresholds and policy apply from the next call on; deadlines
  // already armed (a grace period in progress) keep their time.
  // remediation.restart.settle is part of the policy: a new value applies
  // to targets going offline from then on.
  void configure(const config::Config& config);

  Effects upsert(const TargetSpec& spec, steady::time_point now);
  Effects remove(std::string_view id, steady::time_point now);
  // As remove(), for a target another cluster instance judges now (issue
  // 14): its transition says handed_over, so no event is written and its
  // row (restart history, quarantine) stays for the new owner to restore.
  Effects hand_over(std::string_view id, steady::time_point now);
  Effects submit(const Evidence& evidence, steady::time_point now);
  Effects tick(steady::time_point now);
  // When tick() next has work; nullopt: nothing pending.
  std::optional<steady::time_point> next_deadline() const;

  // The answer to a restart/webhook order. Ignored unless the target is
  // still restarting on that order.
  Effects remediation_result(std::string_view id, RemediationKind kind, bool ok, std::string_view detail,
                             steady::time_point now);
  // The engine saw the container (re)start without us ordering it (start
  // event, or discovered in created/restarting): the target gets a startup
  // grace (state restarting, not counted as a restart). For a target already
  // restarting it confirms the start and re-arms the grace from now.
  Effects begin_grace(std::string_view id, Layer layer, std::string_view reason, steady::time_point now);
  // POST /admin/targets/{id}/reset: clears quarantine, backoff and restart
  // history (restarts = 0). A quarantined target goes offline and is
  // remediated afresh. Always emits one Transition (layer admin; from may
  // equal to). Empty Effects when the id is unknown.
  Effects reset(std::string_view id, steady::time_point now);
  // After a daemon restart: the restart count, quarantine and crash-loop
  // history the previous run left (restarts older than `window` are
  // dropped; the backoff continues from them). A restored quarantine holds
  // like any other until reset(): a target down now goes `quarantined`, one
  // alive stays online with quarantined=true. Adds to what this run already
  // counted. Empty Effects when the id is unknown.
  Effects restore(const RestoredTarget& restored, steady::time_point now);
  // An evidence source ("redis", "engine") unhealthy => fail-safe active.
  Effects set_source_healthy(std::string_view source, bool healthy, steady::time_point now);
  // Several instances (issue 14): the counts the live peers published. The
  // fail-safe is decided again at once when they differ from the last ones:
  // a trip holds every restart that falls due from then on, a recovery
  // releases the held ones a settle delay later (as any recovery does).
  Effects set_peer_counts(const PeerCounts& peers, steady::time_point now);
  const PeerCounts& peer_counts() const { return peers_; }

  bool failsafe_active() const { return failsafe_; }
  // Why it last switched on or off (for the admin API / logs).
  const std::string& failsafe_reason() const { return failsafe_reason_; }

  // Valid until the next call that changes the machine.
  const TargetRecord* find(std::string_view id) const;
  template <class F>
  void for_each(F&& f) const {
    for (const TargetRecord& rec : slots_)
      if (rec.live) f(rec);
  }
  // for_each in stretches, for a walk that yields between them: the live
  // records of slots [from, from + max_slots); returns where the next stretch
  // starts, slot_end() when none is left. Slots keep their index while the
  // machine changes between stretches; a record freed or added meanwhile is
  // seen or not, like a row in a concurrent scan.
  template <class F>
  std::size_t for_each_from(std::size_t from, std::size_t max_slots, F&& f) const {
    const std::size_t end = std::min(slots_.size(), from + max_slots);
    for (std::size_t i = from; i < end; ++i)
      if (slots_[i].live) f(slots_[i]);
    return end;
  }
  std::size_t slot_end() const { return slots_.size(); }
  std::size_t size() const { return index_.size(); }
  std::array<std::size_t, state_count> counts_by_state() const { return counts_; }
  std::size_t interned_texts() const { return texts_->size(); }

 private:
  struct HeapEntry {
    steady::time_point at;
    std::uint32_t slot;
    std::uint32_t generation;
    bool operator>(const HeapEntry& o) const { return at > o.at; }
  };

  TargetRecord* lookup(std::string_view id);
  Effects drop(std::string_view id, steady::time_point now, bool handed_over);
  std::uint32_t allocate_slot();
  void free_slot(TargetRecord& rec);

  // state_machine.cpp: evidence and the state change itself.
  void apply(TargetRecord& rec, const Evidence& ev, steady::time_point now, Effects& fx);
  void apply_dead(TargetRecord& rec, const Evidence& ev, const Text& reason, steady::time_point now,
                  Effects& fx);
  void set_state(TargetRecord& rec, State to, Layer layer, Text reason, steady::time_point now,
                 std::optional<steady::time_point> observed, Effects& fx, bool added = false,
                 bool removed = false);
  void pause(TargetRecord& rec, bool paused, steady::time_point now, Effects& fx);

  // state_machine_remediation.cpp: deadlines, orders, fail-safe.
  void advance(steady::time_point now, Effects& fx);
  void handle_deadline(TargetRecord& rec, DeadlineKind kind, steady::time_point now, Effects& fx);
  void go_down(TargetRecord& rec, Layer layer, Text reason, steady::time_point now,
               std::optional<steady::time_point> observed, Effects& fx);
  void plan_remediation(TargetRecord& rec, steady::time_point now, Effects& fx);
  void order_remediation(TargetRecord& rec, steady::time_point now, Effects& fx);
  void failed_start(TargetRecord& rec, std::string_view why, steady::time_point now,
                    std::optional<steady::time_point> observed, Effects& fx);
  void quarantine(TargetRecord& rec, steady::time_point now, Effects& fx);
  void went_online(TargetRecord& rec, steady::time_point now);
  void emit_order(const TargetRecord& rec, RemediationKind kind, bool suppressed, Effects& fx);
  void schedule(TargetRecord& rec, DeadlineKind kind, steady::time_point at);
  void expire_down_window(steady::time_point now);
  void evaluate_failsafe(steady::time_point now, Effects& fx);
  void release_suppressed(steady::time_point now);
  bool heap_entry_current(const HeapEntry& e) const;
  void compact_heap();

  // Declared first: destroyed last, after every Text handle in the records.
  std::unique_ptr<TextPool> texts_;
  WallClock wall_clock_;
  config::Proactive proactive_;
  config::Restart restart_;
  config::FailSafe fail_safe_;

  std::deque<TargetRecord> slots_;  // stable addresses: index_ keys view spec.id
  std::vector<std::uint32_t> free_slots_;
  // std::hash: boost::hash of a string is several times slower on short ids.
  boost::unordered_flat_map<std::string_view, std::uint32_t, std::hash<std::string_view>> index_;
  std::array<std::size_t, state_count> counts_{};
  std::size_t remediable_ = 0;  // live targets not paused

  mutable std::vector<HeapEntry> heap_;  // min-heap by `at`, lazily pruned
  DownWindow down_window_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> suppressed_;  // (slot, generation)
  std::vector<std::pair<std::string, bool>> sources_;  // source -> healthy
  PeerCounts peers_;  // the rest of a cluster's fleet (none alone)
  bool failsafe_ = false;
  bool failsafe_dirty_ = true;  // an input of the fail-safe decision changed
  std::string failsafe_reason_;

  // Constant reasons, interned once.
  Text reason_discovered_, reason_paused_, reason_unpaused_, reason_removed_, reason_handed_over_, reason_reset_,
      reason_restored_quarantine_;
};

}  // namespace healthsweep::sweeps::decide
