#include "cluster/hook_routing.hpp"

namespace healthsweep::cluster {

HookRoute route_hook(const HookSituation& s) {
  if (s.owned_here) return HookRoute::judge_here;
  if (!s.known) return HookRoute::unknown;
  if (s.owner.empty()) return HookRoute::no_owner;
  return s.forwarded ? HookRoute::name_owner : HookRoute::forward;
}

}  // namespace healthsweep::cluster
