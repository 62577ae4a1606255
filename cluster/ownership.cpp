#include "cluster/ownership.hpp"

#include "cluster/rendezvous.hpp"

namespace healthsweep::cluster {

std::string_view owner_of(std::string_view target, const Locality& where, std::span<const LiveMember> live) {
  if (!where.pinned.empty()) {
    for (const LiveMember& m : live)
      if (m.instance_id == where.pinned) return m.instance_id;
    return {};
  }
  // Highest weight among the candidates; ties to the smaller id (as
  // rendezvous_owner), so every instance picks the same one.
  std::string_view best;
  std::uint64_t best_weight = 0;
  for (const LiveMember& m : live) {
    if (!where.engine.empty() && m.engine != where.engine) continue;
    const std::uint64_t w = rendezvous_weight(m.instance_id, target);
    if (best.empty() || w > best_weight || (w == best_weight && m.instance_id < best)) {
      best = m.instance_id;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace healthsweep::cluster
