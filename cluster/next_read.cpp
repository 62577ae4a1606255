#include "cluster/next_read.hpp"

#include <algorithm>

namespace healthsweep::cluster {

std::chrono::milliseconds next_read_after(std::span<const Member> members, std::string_view self,
                                          std::chrono::milliseconds renew_every) {
  auto wait = renew_every;
  for (const Member& m : members) {
    if (!m.live || m.instance_id == self) continue;  // an expired row stays until its id comes back
    const std::chrono::milliseconds due{m.expires_in_ms};
    wait = std::min(wait, std::max(min_read_gap, due + past_expiry));
  }
  return wait;
}

}  // namespace healthsweep::cluster
