// The periodic reconciliation (issue 15): instead of a SCAN of the whole
// keyspace and one PTTL per heartbeat every reconcile_interval (the cost grew
// with every unrelated key in the instance), the watched keys are checked
// with `EXISTS k1 ... kN` in batches of one expectation each, spread over
// the interval. A batch whose count is not the expected one (a key deleted
// without a notification we saw, a key that appeared for a target not
// believed alive) gets one PTTL per key, and the tracker decides. Pure: the
// batches, what a count means, and the pacing; passive_session.cpp sends.
#pragma once

#include "sweeps/passive/heartbeat_deadlines.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace healthsweep::sweeps::passive {

struct ExistenceBatch {
  std::vector<std::string> ids;
  bool expect_present = false;  // targets believed alive: all keys there; others: none
};

// The watched ids in the tracker's slots [from, to), in batches of at most
// `per_batch` (0 counts as 1) that share one expectation, so that a count
// tells whether any key differs. A pass walks the slots a slice per step:
// building all 100,000 at once held the loop for 12 ms.
std::vector<ExistenceBatch> existence_batches(const HeartbeatDeadlines& tracker, std::size_t from, std::size_t to,
                                              std::size_t per_batch);
// Every watched id.
inline std::vector<ExistenceBatch> existence_batches(const HeartbeatDeadlines& tracker, std::size_t per_batch) {
  return existence_batches(tracker, 0, tracker.slot_end(), per_batch);
}

// EXISTS answered `count` for the batch: does any key need a PTTL?
bool existence_mismatch(const ExistenceBatch& batch, long long count);

struct PassPacing {
  std::size_t batches_per_step = 1;
  std::chrono::milliseconds pause{0};  // between two steps
};
// `batches` spread over `spread` in at most `max_steps` steps (each a few
// pipelined commands and one round trip), so Redis sees a trickle and the
// loop a bounded handler, never a burst.
PassPacing pass_pacing(std::size_t batches, std::chrono::milliseconds spread, std::size_t max_steps);

}  // namespace healthsweep::sweeps::passive
