// The passive layer's bookkeeping, pure: which targets it watches, when each
// heartbeat key expires, and what a PTTL answer means for a target. One
// indexed heap of wake-up times for the whole fleet (a deadline, the end of a
// grace, or a lease on a confirmation in flight); the caller drives it with
// one timer and passes the time in, so tests need no Redis and no sleeping.
#pragma once

#include "sweeps/decide/evidence.hpp"

#include <boost/container/deque.hpp>
#include <boost/container/options.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::sweeps::passive {

// "healthsweep:heartbeat:{id}" <-> target id.
class HeartbeatKeyPattern {
 public:
  // A template without "{id}" gets the id appended.
  explicit HeartbeatKeyPattern(std::string_view key_template);
  std::string key(std::string_view id) const;
  // The id in `key`, or nullopt when the key does not follow the pattern.
  std::optional<std::string_view> id_of(std::string_view key) const;
  // Redis glob matching every heartbeat key (for SCAN MATCH and PSUBSCRIBE).
  std::string glob() const;

 private:
  std::string prefix_;
  std::string suffix_;
};

enum class HeartbeatState { unknown, alive, dead };

struct HeartbeatVerdict {
  std::string target;
  decide::Verdict verdict = decide::Verdict::unknown;  // alive or dead
  std::string reason;
  std::chrono::steady_clock::time_point observed_at{};
};

class HeartbeatDeadlines {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  // `grace`: how long a target may go without a heartbeat key before a missing
  // key counts as dead, counted from when the target appeared (or from
  // restart_grace()). It grows to the largest TTL ever seen, so it is never
  // shorter than one heartbeat period of the fleet.
  explicit HeartbeatDeadlines(std::chrono::milliseconds grace);
  // The index hashes slots through slots_: not copied or moved.
  HeartbeatDeadlines(const HeartbeatDeadlines&) = delete;
  HeartbeatDeadlines& operator=(const HeartbeatDeadlines&) = delete;

  // Replaces the watched set: new ids start unknown with a full grace from
  // `now`; ids no longer listed are forgotten. Returns the ids added.
  std::vector<std::string> set_targets(const std::vector<std::string>& ids, TimePoint now);
  // The same for a change: `added` start watched (those already watched keep
  // their state), `removed` are forgotten. Costs the change, not the fleet:
  // a discovery of 11,000 containers among 100,000 targets hands over 11,000
  // ids, not a copy of all 111,000 to compare. Returns the ids added.
  std::vector<std::string> change_targets(const std::vector<std::string>& added,
                                          const std::vector<std::string>& removed, TimePoint now);
  bool watched(std::string_view id) const { return index_.count(id) != 0; }
  std::size_t size() const { return index_.size(); }
  // The watched ids, in no particular order.
  std::vector<std::string> ids() const;
  // The watched ids in internal slots [from, to) and their states, for a
  // caller that walks the whole set a slice at a time (slot_end() is one past
  // the last slot; slots do not move, a target added meanwhile may take a
  // free slot already walked past).
  std::size_t slot_end() const { return slots_.size(); }
  void for_slots(std::size_t from, std::size_t to,
                 const std::function<void(const std::string& id, HeartbeatState state)>& fn) const;
  std::optional<HeartbeatState> state(std::string_view id) const;
  // When the key was last seen refreshed (or first seen), wall clock.
  std::optional<WallTime> last_heartbeat(std::string_view id) const;
  // When the key expires, as last measured (nullopt: no key or no TTL).
  std::optional<TimePoint> key_deadline(std::string_view id) const;
  std::chrono::milliseconds grace() const { return grace_; }

  // The earliest wake-up time in the heap, if any.
  std::optional<TimePoint> next_wake() const;
  // Targets whose wake-up time is <= now, at most `max` of them. Each is
  // leased: due again at now + lease unless a PTTL result arrives first, so a
  // confirmation lost with a connection is not lost for good.
  std::vector<std::string> take_due(TimePoint now, std::chrono::milliseconds lease,
                                    std::size_t max = SIZE_MAX);

  struct Observation {
    std::optional<HeartbeatVerdict> verdict;  // the target's liveness changed
    bool key_without_ttl = false;             // first sighting of this key without a TTL
  };
  // What PTTL answered for the target's key: >= 0 ms left, -1 no TTL, -2 no
  // key. `sent_at`/`sent_wall`: when the PTTL went out, on both clocks (the
  // key's deadline is taken as sent_at + pttl: early rather than late; the
  // wake is expiry_of(), the first moment Redis can call the key gone);
  // `now`/`wall` when the answer came. Unwatched ids are ignored.
  Observation observe_pttl(std::string_view id, long long pttl_ms, TimePoint sent_at, WallTime sent_wall,
                           TimePoint now, WallTime wall);

  // Deadlines predicted from refresh notifications (issue 15: a PTTL per
  // refresh was most of the Redis cost). A target alive with a learnt TTL
  // gets its deadline at a refresh without a round trip: seen_at + TTL,
  // confirmed by one PTTL `margin` before it (a key that is still there then
  // is re-armed on its measured deadline, so the verdict stays on time).
  // Every `sample_every`-th refresh of a key is measured all the same, so a
  // changed TTL is learnt; 0 measures every refresh (no prediction).
  void set_prediction(unsigned sample_every, std::chrono::milliseconds margin);
  // A refresh notification (`expire`, `set`) of the target's key, seen at
  // `now`. True: measure it (PTTL, then observe_pttl); false: the deadline
  // was predicted (or the id is not watched).
  bool observe_refresh(std::string_view id, TimePoint now, WallTime wall);
  // The key's full TTL as last learnt from a measured refresh.
  std::optional<std::chrono::milliseconds> learnt_ttl(std::string_view id) const;

  // Reconciliation: keys observed after begin_reconcile() count as seen;
  // unseen_alive() lists targets believed alive whose key was not seen since.
  void begin_reconcile() { ++epoch_; }
  std::vector<std::string> unseen_alive() const;

  // The keys may have been lost without the targets stopping (Redis
  // restarted or failed over, another URL or key pattern): a missing key is
  // no evidence of death until a full grace from `now`.
  void restart_grace(TimePoint now);

 private:
  // When a key with `ttl` left, by a PTTL sent at sent_at/sent_wall, goes at
  // the soonest (Redis's whole-millisecond expiry).
  static TimePoint expiry_of(std::chrono::milliseconds ttl, TimePoint sent_at, WallTime sent_wall);
  static constexpr std::uint32_t npos = UINT32_MAX;
  struct Entry {
    std::string id;
    HeartbeatState state = HeartbeatState::unknown;
    bool in_use = false;
    bool has_key_deadline = false;
    bool no_ttl_noted = false;
    bool has_heartbeat = false;
    bool has_ttl = false;         // `ttl` learnt: refreshes may be predicted
    bool predicted = false;       // key_deadline is a prediction, not a measurement
    bool sample_pending = false;  // the next PTTL measures the refresh seen at refresh_seen_at
    std::uint32_t predicted_in_row = 0;
    std::chrono::milliseconds ttl{0};
    TimePoint refresh_seen_at{};
    TimePoint grace_until{};
    TimePoint key_deadline{};
    TimePoint wake{};
    WallTime last_heartbeat{};
    std::uint32_t heap_pos = npos;
    std::uint32_t seen_epoch = 0;
    std::uint32_t listed_gen = 0;
  };
  // The index holds slots, hashed and compared through their entry's id
  // (lookups by id are transparent): each id is held once, in its Entry, not
  // again as a map key in a node of its own (issue 15: about 70 B per target).
  // A slot is in the index only while its entry's id is set.
  // Slots in blocks of 1,024 (about 115 KiB): the fleet grows a block at a
  // time, never by moving every entry to a larger array. A vector grown by
  // 11,000 discovered containers at 100,000 targets had the old and the new
  // array alive at once, 11 MiB more for the length of the move (issue 15's
  // start-up peak). Slots do not move, as before.
  using Slots = boost::container::deque<Entry, void,
                                        boost::container::deque_options_t<boost::container::block_size<1024U>>>;
  struct SlotHash {
    using is_transparent = void;
    const Slots* slots;
    std::size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
    std::size_t operator()(std::uint32_t slot) const { return (*this)(std::string_view((*slots)[slot].id)); }
  };
  struct SlotEq {
    using is_transparent = void;
    const Slots* slots;
    bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
    bool operator()(std::string_view id, std::uint32_t slot) const { return (*slots)[slot].id == id; }
    bool operator()(std::uint32_t slot, std::string_view id) const { return (*slots)[slot].id == id; }
  };

  Entry* find(std::string_view id);
  const Entry* find(std::string_view id) const;
  void schedule(std::uint32_t slot, TimePoint wake);
  void unschedule(std::uint32_t slot);
  void sift_up(std::uint32_t pos);
  void sift_down(std::uint32_t pos);
  void place(std::uint32_t pos, std::uint32_t slot);
  void remove(std::uint32_t slot);
  // Watches `id` (a full grace from `now`) unless it already is; true if added.
  bool add(const std::string& id, TimePoint now);
  static HeartbeatVerdict gone_verdict(const Entry& e, TimePoint now);

  std::chrono::milliseconds grace_;
  unsigned sample_every_ = 0;
  std::chrono::milliseconds margin_{0};
  Slots slots_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> heap_;  // slots, min-heap on Entry::wake
  boost::unordered_flat_set<std::uint32_t, SlotHash, SlotEq> index_{0, SlotHash{&slots_}, SlotEq{&slots_}};
  std::uint32_t epoch_ = 0;
  std::uint32_t gen_ = 0;
};

}  // namespace healthsweep::sweeps::passive
