#include "cluster/rendezvous.hpp"

namespace healthsweep::cluster {
namespace {

constexpr std::uint64_t fnv1a(std::uint64_t h, std::string_view text) {
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64's finalizer: FNV-1a alone leaves the high bits of similar
// inputs ("ws-1", "ws-2") correlated, and the weights are compared whole.
constexpr std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t rendezvous_weight(std::string_view instance_id, std::string_view target_id) {
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  std::uint64_t h = fnv1a(0xcbf29ce484222325ULL, instance_id);
  h = fnv1a(h, std::string_view("\0", 1));
  return mix(fnv1a(h, target_id));
}

std::string_view rendezvous_owner(std::string_view target_id, std::span<const std::string> members) {
  std::string_view best;
  std::uint64_t best_weight = 0;
  for (const std::string& m : members) {
    const std::uint64_t w = rendezvous_weight(m, target_id);
    if (outweighs(w, m, best_weight, best)) {
      best = m;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace healthsweep::cluster
