#include "cluster/ownership.hpp"

#include <algorithm>

#include "cluster/rendezvous.hpp"

namespace healthsweep::cluster {

std::string_view owner_of(std::string_view target, const Locality& where, std::span<const LiveMember> live) {
  if (!where.pinned.empty()) {
    for (const LiveMember& m : live)
      if (m.instance_id == where.pinned) return m.instance_id;
    return {};
  }
  // Rendezvous among the candidates (cluster/rendezvous.hpp).
  std::string_view best;
  std::uint64_t best_weight = 0;
  for (const LiveMember& m : live) {
    if (!where.engine.empty() && m.engine != where.engine) continue;
    const std::uint64_t w = rendezvous_weight(m.instance_id, target);
    if (outweighs(w, m.instance_id, best_weight, best)) {
      best = m.instance_id;
      best_weight = w;
    }
  }
  return best;
}

std::vector<LiveMember> with_joining_self(std::span<const LiveMember> owners, bool holds_lease,
                                          const LiveMember& self) {
  const bool owner_already = std::any_of(owners.begin(), owners.end(),
                                         [&](const LiveMember& m) { return m.instance_id == self.instance_id; });
  if (!holds_lease || owner_already) return {};
  std::vector<LiveMember> out(owners.begin(), owners.end());
  out.push_back(self);
  return out;
}

}  // namespace healthsweep::cluster
