#include "sweeps/passive/existence_batches.hpp"

#include <algorithm>

namespace healthsweep::sweeps::passive {

std::vector<ExistenceBatch> existence_batches(const HeartbeatDeadlines& tracker, std::size_t from, std::size_t to,
                                              std::size_t per_batch) {
  per_batch = std::max<std::size_t>(per_batch, 1);
  std::vector<ExistenceBatch> out;
  ExistenceBatch present{{}, true};
  ExistenceBatch absent{{}, false};
  const auto add = [&](ExistenceBatch& open, const std::string& id) {
    open.ids.push_back(id);
    if (open.ids.size() < per_batch) return;
    out.push_back(ExistenceBatch{std::move(open.ids), open.expect_present});
    open.ids.clear();
  };
  tracker.for_slots(from, to, [&](const std::string& id, HeartbeatState state) {
    add(state == HeartbeatState::alive ? present : absent, id);
  });
  for (auto* open : {&present, &absent})
    if (!open->ids.empty()) out.push_back(std::move(*open));
  return out;
}

bool existence_mismatch(const ExistenceBatch& batch, long long count) {
  const auto expected = batch.expect_present ? static_cast<long long>(batch.ids.size()) : 0LL;
  return count != expected;
}

PassPacing pass_pacing(std::size_t batches, std::chrono::milliseconds spread, std::size_t max_steps) {
  PassPacing p;
  const auto steps = std::clamp<std::size_t>(batches, 1, std::max<std::size_t>(max_steps, 1));
  p.batches_per_step = (batches + steps - 1) / steps;
  p.batches_per_step = std::max<std::size_t>(p.batches_per_step, 1);
  p.pause = steps > 1 ? spread / static_cast<long>(steps) : std::chrono::milliseconds(0);
  return p;
}

}  // namespace healthsweep::sweeps::passive
