#include "sweeps/passive/heartbeat_deadlines.hpp"

#include "clients/redis/client.hpp"

#include <algorithm>

namespace healthsweep::sweeps::passive {

using namespace healthsweep::sweeps::decide;

using namespace healthsweep::clients::redis;

using namespace std::chrono_literals;

HeartbeatKeyPattern::HeartbeatKeyPattern(std::string_view key_template) {
  const auto at = key_template.find("{id}");
  if (at == std::string_view::npos) {
    prefix_ = key_template;
  } else {
    prefix_ = key_template.substr(0, at);
    suffix_ = key_template.substr(at + 4);
  }
}

std::string HeartbeatKeyPattern::key(std::string_view id) const {
  std::string k;
  k.reserve(prefix_.size() + id.size() + suffix_.size());
  k.append(prefix_).append(id).append(suffix_);
  return k;
}

std::optional<std::string_view> HeartbeatKeyPattern::id_of(std::string_view key) const {
  if (key.size() <= prefix_.size() + suffix_.size()) return std::nullopt;
  if (!key.starts_with(prefix_) || !key.ends_with(suffix_)) return std::nullopt;
  return key.substr(prefix_.size(), key.size() - prefix_.size() - suffix_.size());
}

std::string HeartbeatKeyPattern::glob() const {
  return redis_glob_escape(prefix_) + "*" + redis_glob_escape(suffix_);
}

HeartbeatDeadlines::HeartbeatDeadlines(std::chrono::milliseconds grace) : grace_(grace) {}

HeartbeatDeadlines::Entry* HeartbeatDeadlines::find(std::string_view id) {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &slots_[*it];
}

const HeartbeatDeadlines::Entry* HeartbeatDeadlines::find(std::string_view id) const {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &slots_[*it];
}

std::vector<std::string> HeartbeatDeadlines::set_targets(const std::vector<std::string>& ids,
                                                         TimePoint now) {
  ++gen_;
  // Room in the index for the whole list at once: growing by doubling would
  // leave up to half of a large fleet's index empty for good. (The slots
  // grow a block at a time: nothing to reserve.)
  if (ids.size() > index_.size()) index_.reserve(ids.size());
  std::vector<std::string> added;
  for (const auto& id : ids)
    if (add(id, now)) added.push_back(id);
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot)
    if (slots_[slot].in_use && slots_[slot].listed_gen != gen_) remove(slot);
  return added;
}

std::vector<std::string> HeartbeatDeadlines::change_targets(const std::vector<std::string>& added,
                                                            const std::vector<std::string>& removed, TimePoint now) {
  for (const auto& id : removed)
    if (const auto it = index_.find(id); it != index_.end()) remove(*it);
  std::vector<std::string> out;
  for (const auto& id : added)
    if (add(id, now)) out.push_back(id);
  return out;
}

bool HeartbeatDeadlines::add(const std::string& id, TimePoint now) {
  if (auto* e = find(id)) {
    e->listed_gen = gen_;
    return false;
  }
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Entry& e = slots_[slot];
  e = Entry{};
  e.id = id;
  e.in_use = true;
  e.listed_gen = gen_;
  e.seen_epoch = epoch_;  // not "unseen" in a reconciliation it did not take part in
  e.grace_until = now + grace_;
  index_.insert(slot);
  schedule(slot, e.grace_until);
  return true;
}

void HeartbeatDeadlines::remove(std::uint32_t slot) {
  unschedule(slot);
  index_.erase(slot);  // while its id is still set: the index hashes the slot through it
  slots_[slot] = Entry{};
  free_.push_back(slot);
}

std::optional<HeartbeatState> HeartbeatDeadlines::state(std::string_view id) const {
  const auto* e = find(id);
  if (!e) return std::nullopt;
  return e->state;
}

std::optional<HeartbeatDeadlines::WallTime> HeartbeatDeadlines::last_heartbeat(std::string_view id) const {
  const auto* e = find(id);
  if (!e || !e->has_heartbeat) return std::nullopt;
  return e->last_heartbeat;
}

std::optional<HeartbeatDeadlines::TimePoint> HeartbeatDeadlines::key_deadline(std::string_view id) const {
  const auto* e = find(id);
  if (!e || !e->has_key_deadline) return std::nullopt;
  return e->key_deadline;
}

std::optional<HeartbeatDeadlines::TimePoint> HeartbeatDeadlines::next_wake() const {
  if (heap_.empty()) return std::nullopt;
  return slots_[heap_.front()].wake;
}

std::vector<std::string> HeartbeatDeadlines::take_due(TimePoint now, std::chrono::milliseconds lease,
                                                      std::size_t max) {
  std::vector<std::string> due;
  const auto until = now + std::max(lease, std::chrono::milliseconds(1));
  while (!heap_.empty() && due.size() < max) {
    const auto slot = heap_.front();
    Entry& e = slots_[slot];
    if (e.wake > now) break;
    due.push_back(e.id);
    e.wake = until;
    sift_down(0);
  }
  return due;
}

void HeartbeatDeadlines::set_prediction(unsigned sample_every, std::chrono::milliseconds margin) {
  sample_every_ = sample_every;
  margin_ = std::max(margin, std::chrono::milliseconds(0));
}

bool HeartbeatDeadlines::observe_refresh(std::string_view id, TimePoint now, WallTime wall) {
  const auto it = index_.find(id);
  if (it == index_.end()) return false;
  const auto slot = *it;
  Entry& e = slots_[slot];
  if (e.state != HeartbeatState::alive || !e.has_ttl || sample_every_ == 0 || e.predicted_in_row + 1 >= sample_every_) {
    e.sample_pending = true;
    e.refresh_seen_at = now;
    e.predicted_in_row = 0;
    return true;
  }
  ++e.predicted_in_row;
  e.key_deadline = now + e.ttl;
  e.has_key_deadline = true;
  e.predicted = true;
  e.has_heartbeat = true;
  e.last_heartbeat = wall;
  schedule(slot, e.key_deadline - margin_);
  return false;
}

std::optional<std::chrono::milliseconds> HeartbeatDeadlines::learnt_ttl(std::string_view id) const {
  const auto* e = find(id);
  if (!e || !e->has_ttl) return std::nullopt;
  return e->ttl;
}

HeartbeatDeadlines::TimePoint HeartbeatDeadlines::expiry_of(std::chrono::milliseconds ttl, TimePoint sent_at,
                                                             WallTime sent_wall) {
  // Redis keeps a key while its millisecond clock (the wall clock, cut to
  // whole milliseconds) has not passed the key's expiry time E; PTTL answers
  // E minus that clock. Asked in wall millisecond W, it answered no earlier
  // than W, so E >= W + ttl and the key goes at W + ttl + 1 ms at the soonest:
  // exact when the answer was computed within the millisecond it was asked
  // in, early otherwise (the ask then finds it and re-arms). On another host,
  // a clock ahead of ours makes this late by under a millisecond, never
  // wrong: the ask at the wake decides.
  const auto into_ms = std::chrono::duration_cast<Clock::duration>(sent_wall.time_since_epoch() % 1ms);
  return sent_at - into_ms + ttl + 1ms;
}

HeartbeatDeadlines::Observation HeartbeatDeadlines::observe_pttl(std::string_view id, long long pttl_ms,
                                                                 TimePoint sent_at, WallTime sent_wall,
                                                                 TimePoint now, WallTime wall) {
  Observation out;
  const auto it = index_.find(id);
  if (it == index_.end()) return out;
  const auto slot = *it;
  Entry& e = slots_[slot];

  if (pttl_ms >= 0 || pttl_ms == -1) {  // the key exists
    e.seen_epoch = epoch_;
    // Seeing the key ends any grace: a new target has shown it heart-beats,
    // and after a restart this key has evidently survived (or come back).
    e.grace_until = TimePoint::min();
    bool refreshed = e.state != HeartbeatState::alive;
    if (pttl_ms >= 0) {
      const auto ttl = std::chrono::milliseconds(pttl_ms);
      grace_ = std::max(grace_, ttl);
      const auto deadline = sent_at + ttl;
      if (e.sample_pending) {
        // The refresh seen at refresh_seen_at, measured: its full TTL, a
        // little short (the notification came after the SET, the PTTL went
        // out before Redis answered it), so predictions err early.
        e.has_ttl = deadline > e.refresh_seen_at;
        e.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - e.refresh_seen_at);
      } else if (e.predicted && (deadline > e.key_deadline + 100ms || deadline + 100ms < e.key_deadline)) {
        // Not where we predicted: the TTL changed or a refresh went unseen.
        // Measure the next refresh instead of predicting from a stale TTL.
        e.has_ttl = false;
      }
      e.sample_pending = false;
      e.predicted = false;
      // A refresh moves the deadline by a heartbeat period; re-measuring an
      // unchanged key moves it only by the round-trip jitter.
      refreshed = refreshed || !e.has_key_deadline || deadline > e.key_deadline + 100ms;
      e.has_key_deadline = true;
      e.key_deadline = deadline;
      e.no_ttl_noted = false;
      // The deadline above errs early by up to a millisecond and the round
      // trip (it dates the answer from the ask's own time); asking then
      // finds the key with 0 ms left and costs an ask a millisecond later.
      // The wake is the first moment Redis can call the key gone.
      schedule(slot, expiry_of(ttl, sent_at, sent_wall));
    } else {
      refreshed = refreshed || e.has_key_deadline;
      e.has_key_deadline = false;
      e.has_ttl = e.sample_pending = e.predicted = false;
      unschedule(slot);
      out.key_without_ttl = !e.no_ttl_noted;
      e.no_ttl_noted = true;
    }
    if (refreshed) {
      e.has_heartbeat = true;
      e.last_heartbeat = wall;
    }
    if (e.state != HeartbeatState::alive) {
      out.verdict = HeartbeatVerdict{
          e.id, Verdict::alive,
          e.state == HeartbeatState::dead ? "heartbeat resumed" : "heartbeat present", now};
      e.state = HeartbeatState::alive;
    }
    return out;
  }

  // No key.
  e.has_ttl = e.sample_pending = e.predicted = false;
  if (e.state == HeartbeatState::dead) {
    unschedule(slot);
    return out;
  }
  if (now < e.grace_until) {  // not evidence yet: look again when the grace ends
    schedule(slot, e.grace_until);
    return out;
  }
  out.verdict = gone_verdict(e, now);
  e.state = HeartbeatState::dead;
  e.has_key_deadline = false;
  unschedule(slot);
  return out;
}

HeartbeatVerdict HeartbeatDeadlines::gone_verdict(const Entry& e, TimePoint now) {
  HeartbeatVerdict v{e.id, Verdict::dead, {}, now};
  if (e.state == HeartbeatState::alive && e.has_key_deadline && e.key_deadline <= now) {
    v.reason = "heartbeat expired";
    v.observed_at = std::max(e.key_deadline, e.grace_until);
  } else if (e.state == HeartbeatState::alive) {
    v.reason = "heartbeat key deleted";
  } else {
    v.reason = "no heartbeat within grace";
    v.observed_at = e.grace_until;
  }
  return v;
}

std::vector<std::string> HeartbeatDeadlines::ids() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto slot : index_) out.push_back(slots_[slot].id);
  return out;
}

void HeartbeatDeadlines::for_slots(std::size_t from, std::size_t to,
                                   const std::function<void(const std::string&, HeartbeatState)>& fn) const {
  for (auto slot = from; slot < std::min(to, slots_.size()); ++slot)
    if (slots_[slot].in_use) fn(slots_[slot].id, slots_[slot].state);
}

std::vector<std::string> HeartbeatDeadlines::unseen_alive() const {
  std::vector<std::string> ids;
  for (const auto& e : slots_)
    if (e.in_use && e.state == HeartbeatState::alive && e.seen_epoch != epoch_) ids.push_back(e.id);
  return ids;
}

void HeartbeatDeadlines::restart_grace(TimePoint now) {
  const auto until = now + grace_;
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
    Entry& e = slots_[slot];
    if (!e.in_use || e.state == HeartbeatState::dead) continue;
    e.grace_until = std::max(e.grace_until, until);
    if (e.state == HeartbeatState::unknown) schedule(slot, e.grace_until);
  }
}

// Indexed binary min-heap: every entry knows its position, so moving one
// deadline is O(log n) and never leaves stale entries behind.
void HeartbeatDeadlines::schedule(std::uint32_t slot, TimePoint wake) {
  Entry& e = slots_[slot];
  const auto old = e.wake;
  e.wake = wake;
  if (e.heap_pos == npos) {
    heap_.push_back(slot);
    e.heap_pos = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(e.heap_pos);
  } else if (wake < old) {
    sift_up(e.heap_pos);
  } else {
    sift_down(e.heap_pos);
  }
}

void HeartbeatDeadlines::unschedule(std::uint32_t slot) {
  const auto pos = slots_[slot].heap_pos;
  if (pos == npos) return;
  slots_[slot].heap_pos = npos;
  const auto last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;
  place(pos, last);
  sift_up(pos);
  sift_down(slots_[last].heap_pos);
}

void HeartbeatDeadlines::place(std::uint32_t pos, std::uint32_t slot) {
  heap_[pos] = slot;
  slots_[slot].heap_pos = pos;
}

void HeartbeatDeadlines::sift_up(std::uint32_t pos) {
  const auto slot = heap_[pos];
  const auto wake = slots_[slot].wake;
  while (pos > 0) {
    const auto parent = (pos - 1) / 2;
    if (slots_[heap_[parent]].wake <= wake) break;
    place(pos, heap_[parent]);
    pos = parent;
  }
  place(pos, slot);
}

void HeartbeatDeadlines::sift_down(std::uint32_t pos) {
  const auto n = static_cast<std::uint32_t>(heap_.size());
  const auto slot = heap_[pos];
  const auto wake = slots_[slot].wake;
  while (true) {
    auto child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && slots_[heap_[child + 1]].wake < slots_[heap_[child]].wake) ++child;
    if (wake <= slots_[heap_[child]].wake) break;
    place(pos, heap_[child]);
    pos = child;
  }
  place(pos, slot);
}

}  // namespace healthsweep::sweeps::passive
