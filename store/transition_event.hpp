// What the store keeps of a state transition (SPEC section 6): the decision's
// Transition, plus the target row after it, as one Event; and the previous
// run's rows back as the decision's RestoredTarget. The mapping lives beside
// the event log it feeds, not in the wiring.
#pragma once

#include <optional>
#include <vector>

#include "store/event.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::store {

// One event row per state change; a target appearing is not one (nullopt),
// its leaving is (the target row is deleted). `after` is the target's record
// after the transition, when it still has one.
std::optional<Event> event_of(const sweeps::decide::Transition& t, const sweeps::decide::TargetRecord* after);

std::vector<sweeps::decide::RestoredTarget> restored_targets(std::vector<TargetRow> rows);

}  // namespace healthsweep::store
