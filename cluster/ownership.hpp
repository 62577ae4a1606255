// Which live instance owns a target (issue 14): exactly one, computed alike
// by every instance from the same member list, with no coordination.
//   - pinned (postgres_query's third column `instance`): that instance while
//     it is live, else nobody: a pin says only that host can judge it, so the
//     target stays unowned (and alerted on) rather than judged from afar;
//   - seen on an engine: rendezvous among the live members on that engine
//     (locality: one daemon per host owns its host's containers; two on one
//     host split them);
//   - otherwise (static targets, postgres_query rows): rendezvous among all
//     live members, so a joining or leaving instance moves about 1/N.
// Applied by the daemon through Fleet::set_ownership (daemon/components.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::cluster {

struct Locality {  // views: built once per target per call, never kept
  std::string_view engine;  // the engine's ID the container was seen on; empty: none
  std::string_view pinned;  // an instance id; empty: none
};

struct LiveMember {
  std::string instance_id;
  std::string engine;  // the ID of the engine this instance watches; empty: none
  bool operator==(const LiveMember&) const = default;
};

// The owner's instance id; empty when no live member may own the target.
std::string_view owner_of(std::string_view target, const Locality& where, std::span<const LiveMember> live);

// The owners as they will be once `self`, holding a lease (`holds_lease`)
// but not among `owners` yet, becomes one; empty when it is not joining.
// owner_of over it names the targets that wait for `self`: judged by
// nobody meanwhile (the cluster_targets_unowned gauge).
std::vector<LiveMember> with_joining_self(std::span<const LiveMember> owners, bool holds_lease,
                                          const LiveMember& self);

}  // namespace healthsweep::cluster
