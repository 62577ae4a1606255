// A digest of what label discovery found, to tell a sweep whose discovered
// set did not change (the steady state) from one that did, without keeping
// or comparing a copy of the set: replacing the engine source in the Fleet
// re-merges every target, which at 10,000 containers is most of a sweep's
// loop time (issue 15).
#pragma once

#include <cstdint>
#include <vector>

#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps::proactive {

// Independent of the order of `specs` (the engine lists in no set order);
// covers what discovery sets: id, container, paused, http. Includes the
// count. Two different sets collide with probability ~2^-64.
std::uint64_t discovery_digest(const std::vector<decide::TargetSpec>& specs);

}  // namespace healthsweep::sweeps::proactive
