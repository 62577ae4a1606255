// Rendezvous (highest-random-weight) hashing: which live instance owns a
// target that no instance sees locally (static targets, postgres_query).
// Every instance computes the same answer from the same member list, with no
// coordination; when an instance joins or leaves, only the targets it wins
// or held move (about 1/N of them), where `hash % N` would move almost all.
// The hash is fixed (FNV-1a, then a 64-bit finalizer), never std::hash: the
// instances may be different builds on different hosts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace healthsweep::cluster {

std::uint64_t rendezvous_weight(std::string_view instance_id, std::string_view target_id);

// Whether a candidate (weight w, id) beats the best so far (empty: none
// yet): the higher weight, ties to the smaller id. The one rule of every
// owner choice (rendezvous_owner, owner_of), so all instances agree.
inline bool outweighs(std::uint64_t w, std::string_view id, std::uint64_t best_weight, std::string_view best) {
  return best.empty() || w > best_weight || (w == best_weight && id < best);
}

// The owner among `members` (instance ids); empty when there are none. Ties
// (astronomically unlikely) go to the smaller instance id, so all agree.
std::string_view rendezvous_owner(std::string_view target_id, std::span<const std::string> members);

}  // namespace healthsweep::cluster
