// This instance's lease in PostgreSQL and the view of its peers (issue 14,
// SPEC section 3 `cluster`). One coroutine on the loop, with a connection of
// its own (a renewal never waits behind a batch of events): acquire the
// lease (a new epoch, the fencing token), then renew it every renew_every,
// reading every member's lease in the same statement. When a live peer's
// lease runs out before the next renewal, the loop renews (and reads) just
// past that expiry instead, so a dead peer's targets move about `lease`
// after its last renewal rather than up to renew_every later (next_read.hpp).
//
// Self-fencing: may_act() turns false renew_deadline after the last renewal
// that PostgreSQL confirmed was *sent*, whatever the database says later.
// PostgreSQL set that lease's expiry at least `lease` after the same moment,
// so an instance cut off from the database stops acting before any peer can
// see its lease expire and take its targets over. The engine cannot check an
// epoch; this is what keeps two instances from restarting one target.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/ownership.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

namespace healthsweep::cluster {

// One row of healthsweep_members as last read.
struct Member {
  std::string instance_id, advertise;
  std::int64_t epoch = 0;
  bool live = false;                 // its lease had not expired at the read
  std::int64_t expires_in_ms = 0;    // negative: expired that long ago
  std::int64_t renewed_ago_ms = 0;
  std::int64_t acquired_at_us = 0;   // Unix time, microseconds
  int targets = 0, offline = 0;      // as that instance last published them
  std::string engine;                // the engine's ID it watches; empty: none (yet)
  std::int64_t held_ms = 0;          // since it acquired this lease (PostgreSQL's clock)
};

// The counts the live peers published, summed: the fleet-wide fail-safe's
// share of the rest of the fleet. Left out: this instance (`self`; its own
// counts are its state machine's, fresher than its row) and members whose
// lease had expired at the read (their targets go to the survivors, who
// publish them as their own).
struct PeerTotals {
  std::size_t targets = 0, offline = 0, instances = 0;
};
PeerTotals live_peer_totals(const std::vector<Member>& members, std::string_view self);

struct MembershipOptions {
  std::string dsn, instance_id, advertise;
  std::chrono::milliseconds lease{10000}, renew_every{2000}, renew_deadline{6666};
  std::chrono::milliseconds stale_after{60000};  // liveness of Subsystem::cluster
};

class Membership {
 public:
  Membership(boost::asio::any_io_executor ex, MembershipOptions options, metrics::ClusterMetrics metrics,
             metrics::LivenessRegistry& live);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  void start();
  // Gives the lease back (bounded by one renew interval) and ends the loop.
  boost::asio::awaitable<void> stop();

  // True while this instance holds its lease and is within its renew deadline.
  bool may_act() const;
  std::int64_t epoch() const;  // 0 while no lease is held
  const std::string& instance_id() const;
  // Every member as last read (this instance's own row with its current lease).
  std::vector<Member> members() const;
  // The ids of the live members, sorted; includes this instance while may_act().
  std::vector<std::string> live_ids() const;
  // Called when may_act() changes, on the loop: at the renew deadline itself
  // (a timer of its own, not the next turn of the renew loop), and when a
  // lease is acquired. The daemon pauses remediation with it.
  void on_change(std::function<void(bool may_act)> handler);
  // The members that own targets (cluster/ownership.hpp), sorted by id:
  // live, and holding their lease long enough that every peer has read the
  // member list since they joined, so a target moves only after its old
  // owner let it go: a peer counts as an owner once it held its lease for
  // 2 x renew_every, this instance itself only after 4 x renew_every (each
  // live peer reads once per renew_every). Until then its share is judged by
  // nobody, briefly, rather than by two. Empty of this instance while it
  // may not act.
  std::vector<LiveMember> owners() const;
  // Called on the loop when owners() changed.
  void on_owners_change(std::function<void()> handler);
  // The ID of the engine this instance watches, published with its lease.
  void set_engine(std::string engine_id);
  // Asked before every renewal: this instance's targets and how many of
  // them are offline, published in its row (the fleet-wide fail-safe reads them).
  void count_with(std::function<std::pair<int, int>()> counts);
  // Called on the loop after every read of the member list (each renewal
  // that PostgreSQL answered, held or not), with every member as read.
  void on_members(std::function<void(const std::vector<Member>&)> handler);
  const MembershipOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::cluster
