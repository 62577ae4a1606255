// StateMachine: deadlines (one heap for the fleet), remediation orders,
// startup grace, quarantine and the fail-safe. The rules themselves are in
// remediation_policy.hpp; this file applies them to target records.
#include <algorithm>
#include <functional>

#include "sweeps/decide/state_machine.hpp"

namespace healthsweep::sweeps::decide {

namespace {

config::Duration positive(config::Duration d) { return std::max(d, config::Duration(1)); }

}  // namespace

Effects StateMachine::tick(steady::time_point now) {
  Effects fx;
  advance(now, fx);
  return fx;
}

void StateMachine::advance(steady::time_point now, Effects& fx) {
  // Slide the fail-safe window to now; decide again if anything it depends on changed.
  if (failsafe_dirty_ || down_window_.expires_by(now)) evaluate_failsafe(now, fx);
  while (!heap_.empty() && heap_.front().at <= now) {
    const HeapEntry entry = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    heap_.pop_back();
    if (!heap_entry_current(entry)) continue;
    TargetRecord& rec = slots_[entry.slot];
    const DeadlineKind kind = rec.deadline_kind;
    rec.deadline_kind = DeadlineKind::none;
    handle_deadline(rec, kind, now, fx);
  }
}

std::optional<StateMachine::steady::time_point> StateMachine::next_deadline() const {
  while (!heap_.empty() && !heap_entry_current(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    heap_.pop_back();
  }
  std::optional<steady::time_point> next;
  if (!heap_.empty()) next = heap_.front().at;
  // While active, the fail-safe may clear when an entry leaves its window.
  if (failsafe_)
    if (auto expiry = down_window_.next_expiry(); expiry && (!next || *expiry < *next)) next = expiry;
  return next;
}

bool StateMachine::heap_entry_current(const HeapEntry& e) const {
  const TargetRecord& rec = slots_[e.slot];
  return rec.live && rec.generation == e.generation && rec.deadline_kind != DeadlineKind::none &&
         rec.deadline == e.at;
}

void StateMachine::schedule(TargetRecord& rec, DeadlineKind kind, steady::time_point at) {
  rec.deadline_kind = kind;
  rec.deadline = at;
  heap_.push_back({at, rec.slot, rec.generation});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
  if (heap_.size() > 4 * index_.size() + 1024) compact_heap();
}

void StateMachine::compact_heap() {
  std::erase_if(heap_, [this](const HeapEntry& e) { return !heap_entry_current(e); });
  std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
}

void StateMachine::handle_deadline(TargetRecord& rec, DeadlineKind kind, steady::time_point now, Effects& fx) {
  switch (kind) {
    case DeadlineKind::restart_due:
      if (rec.state == State::offline) order_remediation(rec, now, fx);
      break;
    case DeadlineKind::grace_ends:
      if (rec.state == State::restarting)
        failed_start(rec, "failed start: not alive within " + format_duration(restart_.startup_grace), now,
                     std::nullopt, fx);
      break;
    case DeadlineKind::backoff_reset:
      if (rec.state == State::online) rec.history.reset();  // the incident is over
      break;
    case DeadlineKind::none: break;
  }
}

void StateMachine::go_down(TargetRecord& rec, Layer layer, Text reason, steady::time_point now,
                           std::optional<steady::time_point> observed, Effects& fx) {
  rec.order_in_flight = rec.start_confirmed = false;
  if (rec.quarantined) {  // no orders until reset()
    set_state(rec, State::quarantined, layer, std::move(reason), now, observed, fx);
    return;
  }
  set_state(rec, State::offline, layer, std::move(reason), now, observed, fx);
  plan_remediation(rec, now, fx);
}

void StateMachine::plan_remediation(TargetRecord& rec, steady::time_point now, Effects& fx) {
  const RemediationKind kind = remediation_kind(restart_, rec.spec.container());
  if (!acts(kind)) {
    emit_order(rec, kind, failsafe_, fx);
    return;
  }
  if (crash_loop(rec.history.get(), now, restart_)) {
    quarantine(rec, now, fx);
    return;
  }
  schedule(rec, DeadlineKind::restart_due, restart_due(rec.history.get(), now, restart_.settle, restart_));
}

void StateMachine::order_remediation(TargetRecord& rec, steady::time_point now, Effects& fx) {
  const RemediationKind kind = remediation_kind(restart_, rec.spec.container());
  if (!acts(kind)) return;  // reconfigured meanwhile; it was marked offline already
  if (crash_loop(rec.history.get(), now, restart_)) {
    quarantine(rec, now, fx);
    return;
  }
  if (failsafe_) {
    emit_order(rec, kind, /*suppressed=*/true, fx);
    if (!rec.suppressed_pending) {
      rec.suppressed_pending = true;
      suppressed_.emplace_back(rec.slot, rec.generation);
    }
    return;
  }
  if (!rec.history) rec.history = std::make_unique<RestartHistory>();
  RestartHistory& history = *rec.history;
  history.recent.push_back(now);
  history.last = now;
  ++history.in_incident;
  ++rec.restarts;
  emit_order(rec, kind, /*suppressed=*/false, fx);
  rec.order_in_flight = true;
  rec.start_confirmed = false;
  rec.suppressed_pending = false;
  const std::string why = std::string(to_string(kind)) + " " + std::to_string(history.recent.size()) +
                          " of " + std::to_string(restart_.max_restarts) + " within " +
                          format_duration(restart_.window);
  set_state(rec, State::restarting, rec.cause_layer, texts_->intern(why), now, std::nullopt, fx);
  schedule(rec, DeadlineKind::grace_ends, now + positive(restart_.startup_grace));
}

void StateMachine::failed_start(TargetRecord& rec, std::string_view reason, steady::time_point now,
                                std::optional<steady::time_point> observed, Effects& fx) {
  go_down(rec, rec.cause_layer, texts_->intern(reason), now, observed, fx);
}

void StateMachine::quarantine(TargetRecord& rec, steady::time_point now, Effects& fx) {
  rec.quarantined = true;
  rec.suppressed_pending = false;
  const std::size_t recent = rec.history ? rec.history->recent.size() : 0;
  const std::string why = "crash loop: " + std::to_string(recent) + " restarts within " +
                          format_duration(restart_.window) + "; reset to retry";
  set_state(rec, State::quarantined, rec.cause_layer, texts_->intern(why), now, std::nullopt, fx);
}

void StateMachine::went_online(TargetRecord& rec, steady::time_point now) {
  if (rec.history) schedule(rec, DeadlineKind::backoff_reset, now + positive(restart_.window));
}

void StateMachine::emit_order(const TargetRecord& rec, RemediationKind kind, bool suppressed, Effects& fx) {
  fx.orders.push_back(
      {rec.spec.id, rec.spec.container(), kind, std::string(rec.reason.view()), suppressed});
}

Effects StateMachine::remediation_result(std::string_view id, RemediationKind kind, bool ok,
                                         std::string_view detail, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  TargetRecord* rec = lookup(id);
  if (!rec || rec->state != State::restarting || !rec->order_in_flight || !acts(kind)) return fx;
  rec->order_in_flight = false;
  if (ok) {
    // The engine says the container is up again: from now on it has the
    // whole startup grace, and dying again is a failed start. A webhook only
    // says someone else will act: wait for evidence or the grace.
    if (kind == RemediationKind::restart) {
      rec->start_confirmed = true;
      rec->started_at = now;
    }
    schedule(*rec, DeadlineKind::grace_ends, now + positive(restart_.startup_grace));
  } else {
    failed_start(*rec, std::string(to_string(kind)) + " failed: " + std::string(detail), now, std::nullopt,
                 fx);
  }
  advance(now, fx);
  return fx;
}

Effects StateMachine::begin_grace(std::string_view id, Layer layer, std::string_view reason,
                                  steady::time_point now) {
  Effects fx;
  advance(now, fx);
  TargetRecord* rec = lookup(id);
  if (!rec) return fx;
  switch (rec->state) {
    case State::unknown:
    case State::suspect:
    case State::offline:
      rec->order_in_flight = rec->suppressed_pending = false;
      rec->cause_layer = layer;
      set_state(*rec, State::restarting, layer, texts_->intern(reason), now, std::nullopt, fx);
      [[fallthrough]];
    case State::restarting:
      rec->start_confirmed = true;
      rec->started_at = now;
      schedule(*rec, DeadlineKind::grace_ends, now + positive(restart_.startup_grace));
      break;
    case State::online:
    case State::quarantined:
    case State::paused:
      break;
  }
  advance(now, fx);
  return fx;
}

Effects StateMachine::restore(const RestoredTarget& restored, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  TargetRecord* rec = lookup(restored.id);
  if (!rec) return fx;
  rec->restarts += restored.restarts;
  // Wall-clock times of the previous run, placed on this run's steady clock
  // by their age now; only those still inside the crash-loop window count.
  const auto wall_now = wall_clock_();
  std::vector<steady::time_point> recent;
  for (const auto t : restored.recent_restarts) {
    const auto age = std::max(wall_now - t, std::chrono::system_clock::duration::zero());
    if (age < restart_.window) recent.push_back(now - std::chrono::duration_cast<steady::duration>(age));
  }
  if (!recent.empty()) {
    if (!rec->history) rec->history = std::make_unique<RestartHistory>();
    RestartHistory& h = *rec->history;
    h.recent.insert(h.recent.end(), recent.begin(), recent.end());
    std::sort(h.recent.begin(), h.recent.end());
    h.last = std::max(h.last, h.recent.back());
    // Restarts within the window stand for the incident's: the previous run
    // forgot its backoff only after `window` online.
    h.in_incident += static_cast<std::uint32_t>(recent.size());
  }
  if (restored.quarantined && !rec->quarantined) {
    rec->quarantined = true;
    rec->suppressed_pending = false;
    switch (rec->state) {
      case State::online:
      case State::suspect:
      case State::paused:
      case State::unknown:  // going down makes it `quarantined`; alive, `online` and still quarantined
        break;
      default:
        rec->order_in_flight = rec->start_confirmed = false;
        set_state(*rec, State::quarantined, Layer::admin, reason_restored_quarantine_, now, std::nullopt, fx);
    }
  } else if (rec->state == State::offline && rec->deadline_kind == DeadlineKind::restart_due) {
    plan_remediation(*rec, now, fx);  // due again, with the restored backoff (or a crash loop)
  } else if (rec->state == State::online && rec->history && rec->deadline_kind == DeadlineKind::none) {
    went_online(*rec, now);  // forget the restored history after `window` online
  }
  advance(now, fx);
  return fx;
}

Effects StateMachine::reset(std::string_view id, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  TargetRecord* rec = lookup(id);
  if (!rec) return fx;
  rec->quarantined = false;
  rec->history.reset();
  rec->restarts = 0;
  if (rec->state == State::quarantined) {
    set_state(*rec, State::offline, Layer::admin, reason_reset_, now, std::nullopt, fx);
    plan_remediation(*rec, now, fx);
  } else {
    // Same state; the event still records the admin action (and restarts = 0).
    Transition t;
    t.target = rec->spec.id;
    t.from = t.to = rec->state;
    t.layer = Layer::admin;
    t.reason = std::string(reason_reset_.view());
    t.at = now;
    t.wall = wall_clock_();
    fx.transitions.push_back(std::move(t));
    if (rec->state == State::offline && rec->deadline_kind == DeadlineKind::restart_due)
      plan_remediation(*rec, now, fx);  // due again without the backoff
    else if (rec->state == State::online && rec->deadline_kind == DeadlineKind::backoff_reset)
      rec->deadline_kind = DeadlineKind::none;
  }
  advance(now, fx);
  return fx;
}

Effects StateMachine::set_source_healthy(std::string_view source, bool healthy, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  auto it = std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) { return s.first == source; });
  if (it == sources_.end())
    sources_.emplace_back(std::string(source), healthy);
  else
    it->second = healthy;
  failsafe_dirty_ = true;
  evaluate_failsafe(now, fx);
  advance(now, fx);
  return fx;
}

Effects StateMachine::set_peer_counts(const PeerCounts& peers, steady::time_point now) {
  Effects fx;
  advance(now, fx);
  if (peers == peers_) return fx;  // every renewal reports; most change nothing
  peers_ = peers;
  failsafe_dirty_ = true;
  evaluate_failsafe(now, fx);
  advance(now, fx);
  return fx;
}

void StateMachine::expire_down_window(steady::time_point now) {
  const std::size_t before = down_window_.count();
  down_window_.expire(now, fail_safe_.window, [this](const DownWindow::Entry& e) {
    const TargetRecord& r = slots_[e.slot];
    return r.live && r.generation == e.generation && r.last_down == e.at;
  });
  if (down_window_.count() != before) failsafe_dirty_ = true;
}

void StateMachine::evaluate_failsafe(steady::time_point now, Effects& fx) {
  expire_down_window(now);
  if (!failsafe_dirty_) return;  // the hot path: nothing it depends on changed
  failsafe_dirty_ = false;
  std::string_view unhealthy;
  for (const auto& [name, healthy] : sources_)
    if (!healthy) {
      unhealthy = name;
      break;
    }
  const FleetSnapshot fleet{remediable_, down_window_.count(), counts_[static_cast<std::size_t>(State::offline)],
                            unhealthy, peers_};
  FailSafeDecision decision = decide_failsafe(fail_safe_, fleet, failsafe_);
  if (decision.active == failsafe_) return;
  failsafe_ = decision.active;
  failsafe_reason_ = decision.reason;
  fx.failsafe_changed = failsafe_;
  fx.failsafe_reason = std::move(decision.reason);
  if (!failsafe_) release_suppressed(now);
}

void StateMachine::release_suppressed(steady::time_point now) {
  for (const auto& [slot, generation] : suppressed_) {
    TargetRecord& rec = slots_[slot];
    if (!rec.live || rec.generation != generation || !rec.suppressed_pending) continue;
    rec.suppressed_pending = false;
    // The settle delay again, from the moment the fail-safe cleared: it
    // clears because targets come back, often started by hand together, and
    // evidence of the others may still be on its way. Released at once, a
    // restart could kill a container an operator has just started (the demo
    // saw it under Podman).
    if (rec.state == State::offline)
      schedule(rec, DeadlineKind::restart_due, restart_due(rec.history.get(), now, restart_.settle, restart_));
  }
  suppressed_.clear();
}

}  // namespace healthsweep::sweeps::decide
