// Which instance answers a hook report (issue 14, "the hook on any
// instance"): the report may reach any daemon of the fleet, but only the
// target's owner checks it and acts on it. The decision, given what this
// instance knows, as a pure function; daemon/components.cpp does the I/O.
#pragma once

#include <string_view>

namespace healthsweep::cluster {

enum class HookRoute {
  judge_here,  // owned here: the reactive layer checks it (coalescing per target)
  forward,     // owned by a live peer: POST the report to its advertise URL
  name_owner,  // owned by a peer, but the report was forwarded already: no second hop
  no_owner,    // known, but no live instance owns it now (a pin to a dead instance, a takeover under way)
  unknown,     // no source names it: 404, as without a cluster
};

struct HookSituation {
  bool known = false;          // a source names the target (owned here or not)
  bool owned_here = false;     // it is in this instance's state machine
  std::string_view owner;      // the owner by the last member list; empty: none
  bool forwarded = false;      // the report came from a peer (X-Healthsweep-Forwarded-By)
};

// A forwarded report is never forwarded again, so a report travels at most
// one hop and two instances that briefly disagree on the owner cannot bounce
// it between them.
HookRoute route_hook(const HookSituation& s);

// The header that marks a report forwarded by a peer; its value is the
// forwarding instance's id (for logs).
inline constexpr std::string_view forwarded_by_header = "X-Healthsweep-Forwarded-By";

}  // namespace healthsweep::cluster
