#include "sweeps/proactive/discovery_digest.hpp"

#include <functional>
#include <string_view>

namespace healthsweep::sweeps::proactive {

namespace {
// splitmix64's finaliser: spreads each field's hash before they are combined.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t field(std::string_view s, std::uint64_t salt) { return mix(std::hash<std::string_view>{}(s) + salt); }
}  // namespace

std::uint64_t discovery_digest(const std::vector<decide::TargetSpec>& specs) {
  // Each spec's fields are chained (order matters inside a spec: id "a" with
  // container "b" differs from id "b" with container "a"); the specs are
  // summed (order does not matter between specs, and a sum, unlike xor,
  // does not cancel a spec listed twice).
  std::uint64_t sum = mix(specs.size());
  for (const auto& s : specs) {
    std::uint64_t h = field(s.id, 1);
    h = mix(h ^ field(s.container, 2));
    h = mix(h ^ field(s.http, 3));
    h = mix(h ^ (s.paused ? 5 : 7));
    sum += h;
  }
  return sum;
}

}  // namespace healthsweep::sweeps::proactive
