// StateMachine: targets, evidence and the state change itself. Deadlines,
// orders and the fail-safe are in state_machine_remediation.cpp.
#include "sweeps/decide/state_machine.hpp"

#include <algorithm>
#include <limits>

namespace healthsweep::sweeps::decide {

namespace {

bool is_down(State s) { return s == State::offline || s == State::quarantined; }

std::uint16_t bump(std::uint16_t n) {
  return n == std::numeric_limits<std::uint16_t>::max() ? n : static_cast<std::uint16_t>(n + 1);
}

int at_least_one(int n) { return std::max(n, 1); }

}  // namespace

StateMachine::StateMachine(const config::Config& config, WallClock wall_clock)
    : texts_(std::make_unique<TextPool>()), wall_clock_(std::move(wall_clock)) {
  configure(config);
  reason_discovered_ = texts_->intern("discovered");
  reason_paused_ = texts_->intern("paused");
  reason_unpaused_ = texts_->intern("unpaused");
  reason_removed_ = texts_->intern("removed: in no source any more");
  reason_handed_over_ = texts_->intern("handed over: another instance judges it");
  reason_reset_ = texts_->intern("reset by admin");
  reason_restored_quarantine_ = texts_->intern("quarantined before the daemon restarted; reset to retry");
}

StateMachine::~StateMachine() = default;

void StateMachine::configure(const config::Config& config) {
  proactive_ = config.proactive;
  restart_ = config.restart;
  fail_safe_ = config.fail_safe;
  failsafe_dirty_ = true;
}

TargetRecord* StateMachine::lookup(std::string_view id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &slots_[it->second];
}

const TargetRecord* StateMachine::find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &slots_[it->second];
}

std::uint32_t StateMachine::allocate_slot() {
  if (!free_slots_.empty()) {
    std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void StateMachine::free_slot(TargetRecord& rec) {
  const std::uint32_t slot = rec.slot;
  const std::uint32_t generation = rec.generation + 1;  // heap/window entries become stale
  rec = TargetRecord{};
  rec.slot = slot;
  rec.generation = generation;
  free_slots_.push_back(slot);
}

Effects StateMachine::upsert(const TargetSpec& spec, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  if (TargetRecord* rec = lookup(spec.id)) {
    rec->spec.set_checks(spec);
    if (spec.paused != rec->spec.paused) pause(*rec, spec.paused, now, fx);
  } else {
    const std::uint32_t slot = allocate_slot();
    TargetRecord& fresh = slots_[slot];
    const std::uint32_t generation = fresh.generation;
    fresh = TargetRecord{};
    fresh.slot = slot;
    fresh.generation = generation;
    fresh.live = true;
    fresh.spec = StoredSpec(spec);
    fresh.state = spec.paused ? State::paused : State::unknown;
    index_.emplace(std::string_view(fresh.spec.id), slot);
    ++counts_[static_cast<std::size_t>(fresh.state)];
    if (!spec.paused) ++remediable_;
    failsafe_dirty_ = true;
    set_state(fresh, fresh.state, Layer::admin, spec.paused ? reason_paused_ : reason_discovered_, now,
              std::nullopt, fx, /*added=*/true);
    evaluate_failsafe(now, fx);  // the fleet grew
  }
  advance(now, fx);
  return fx;
}

void StateMachine::pause(TargetRecord& rec, bool paused, steady::time_point now, Effects& fx) {
  rec.spec.paused = paused;
  rec.alive_streak = rec.dead_streak = 0;
  rec.order_in_flight = rec.start_confirmed = rec.suppressed_pending = false;
  if (paused) {
    // A paused target is out of the fleet the fail-safe looks at.
    expire_down_window(now);
    down_window_.forget(rec.last_down, now, fail_safe_.window);
    rec.last_down.reset();
    --remediable_;
    failsafe_dirty_ = true;
    set_state(rec, State::paused, Layer::admin, reason_paused_, now, std::nullopt, fx);
  } else {
    ++remediable_;
    failsafe_dirty_ = true;
    set_state(rec, State::unknown, Layer::admin, reason_unpaused_, now, std::nullopt, fx);
  }
  evaluate_failsafe(now, fx);
}

Effects StateMachine::remove(std::string_view id, steady::time_point now) {
  return drop(id, now, /*handed_over=*/false);
}

Effects StateMachine::hand_over(std::string_view id, steady::time_point now) {
  return drop(id, now, /*handed_over=*/true);
}

Effects StateMachine::drop(std::string_view id, steady::time_point now, bool handed_over) {
  Effects fx;
  advance(now, fx);
  TargetRecord* rec = lookup(id);
  if (!rec) return fx;
  set_state(*rec, State::unknown, Layer::admin, handed_over ? reason_handed_over_ : reason_removed_, now,
            std::nullopt, fx, false, /*removed=*/true);
  fx.transitions.back().handed_over = handed_over;
  --counts_[static_cast<std::size_t>(State::unknown)];
  if (!rec->spec.paused) --remediable_;
  failsafe_dirty_ = true;
  expire_down_window(now);
  down_window_.forget(rec->last_down, now, fail_safe_.window);
  index_.erase(std::string_view(rec->spec.id));
  free_slot(*rec);
  evaluate_failsafe(now, fx);
  advance(now, fx);
  return fx;
}

Effects StateMachine::submit(const Evidence& ev, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  if (TargetRecord* rec = lookup(ev.target)) {
    apply(*rec, ev, now, fx);
    // Most evidence changes nothing; what does may have made work due now.
    if (!fx.transitions.empty() || !fx.orders.empty() || failsafe_dirty_) advance(now, fx);
  }
  return fx;
}

void StateMachine::apply(TargetRecord& rec, const Evidence& ev, steady::time_point now, Effects& fx) {
  // Record it. The common case repeats the previous reason: no interning.
  const Text* reason = nullptr;
  const auto layer_index = static_cast<std::size_t>(ev.layer);
  if (layer_index < rec.last_evidence.size()) {
    auto& last = rec.last_evidence[layer_index];
    if (last.reason.view() != truncate_utf8(ev.reason, TextPool::max_length))
      last.reason = texts_->intern(ev.reason);
    last.at = now;
    rec.verdicts[layer_index] = ev.verdict;
    rec.layers_seen = static_cast<std::uint8_t>(rec.layers_seen | (1U << layer_index));
    reason = &last.reason;
  }
  const bool has_observed = ev.observed_at != steady::time_point{};
  if (ev.layer == Layer::passive && ev.verdict == Verdict::alive)
    rec.last_heartbeat = has_observed ? ev.observed_at : now;

  if (ev.verdict == Verdict::unknown) return;
  if (ev.verdict == Verdict::alive) {
    rec.alive_streak = bump(rec.alive_streak);
    rec.dead_streak = 0;
  } else {
    rec.dead_streak = bump(rec.dead_streak);
    rec.alive_streak = 0;
  }
  if (rec.state == State::paused) return;
  if (ev.verdict == Verdict::alive &&
      (rec.state == State::online || rec.alive_streak < at_least_one(proactive_.success_threshold)))
    return;  // the hot path: nothing changes
  const Text admin_reason = reason ? Text() : texts_->intern(ev.reason);  // layer admin is not recorded
  if (!reason) reason = &admin_reason;

  if (ev.verdict == Verdict::dead) {
    apply_dead(rec, ev, *reason, now, fx);
    return;
  }
  rec.order_in_flight = false;  // a late remediation_result is ignored
  rec.suppressed_pending = false;
  set_state(rec, State::online, ev.layer, *reason, now,
            has_observed ? std::optional(ev.observed_at) : std::nullopt, fx);
  went_online(rec, now);
}

void StateMachine::apply_dead(TargetRecord& rec, const Evidence& ev, const Text& reason,
                              steady::time_point now, Effects& fx) {
  const bool has_observed = ev.observed_at != steady::time_point{};
  const auto observed = has_observed ? std::optional(ev.observed_at) : std::nullopt;
  switch (rec.state) {
    case State::restarting:
      // Missing or bad evidence during the startup grace never restarts
      // again; only a confirmed start that then died ends the grace early.
      // The engine's own stop/die events of a restart in progress come
      // before the start is confirmed, or are observed before it.
      if (!ev.conclusive || !rec.start_confirmed) return;
      if (has_observed && ev.observed_at < rec.started_at) return;
      failed_start(rec, "failed start: " + ev.reason, now, observed, fx);
      return;
    case State::offline:
    case State::quarantined:
    case State::paused:
      return;
    case State::unknown:
    case State::online:
    case State::suspect:
      break;
  }
  if (ev.conclusive || rec.dead_streak >= at_least_one(proactive_.failure_threshold)) {
    rec.cause_layer = ev.layer;
    go_down(rec, ev.layer, reason, now, observed, fx);
  } else if (rec.state != State::suspect) {
    rec.cause_layer = ev.layer;
    set_state(rec, State::suspect, ev.layer, reason, now, observed, fx);
  }
}

void StateMachine::set_state(TargetRecord& rec, State to, Layer layer, Text reason, steady::time_point now,
                             std::optional<steady::time_point> observed, Effects& fx, bool added,
                             bool removed) {
  const State from = rec.state;
  --counts_[static_cast<std::size_t>(from)];
  ++counts_[static_cast<std::size_t>(to)];
  rec.state = to;
  rec.since = now;
  rec.since_wall = wall_clock_();
  rec.reason = std::move(reason);
  rec.deadline_kind = DeadlineKind::none;  // every deadline belongs to one state
  if (to == State::restarting || to == State::unknown) rec.alive_streak = rec.dead_streak = 0;

  Transition t;
  t.target = rec.spec.id;
  t.from = added ? to : from;
  t.to = to;
  t.layer = layer;
  t.reason = std::string(rec.reason.view());
  t.at = now;
  t.wall = rec.since_wall;
  t.observed_at = observed;
  t.added = added;
  t.removed = removed;
  fx.transitions.push_back(std::move(t));

  if (!is_down(from) && is_down(to) && !removed) {
    expire_down_window(now);
    down_window_.add({now, rec.slot, rec.generation}, rec.last_down, now, fail_safe_.window);
    rec.last_down = now;
  }
  if (from == State::offline || to == State::offline || is_down(to)) {
    failsafe_dirty_ = true;
    evaluate_failsafe(now, fx);
  }
}

}  // namespace healthsweep::sweeps::decide
