// The target object of SPEC section 4, as GET /admin/targets[/{id}] shows it.
#pragma once

#include <chrono>
#include <string_view>

#include <boost/json/object.hpp>

#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps {

// {"id","state","container","since","reason","last_heartbeat","restarts",
//  "quarantined","evidence":{"passive","proactive","reactive"},"owner"}.
// Times are RFC 3339 UTC with milliseconds; steady-clock times (last
// heartbeat) are converted with the pair (now_steady, now_wall). container is
// null when the target has none; last_heartbeat and each evidence entry
// ("verdict: reason") are null until there is one. owner: the instance id
// that judges the target (this one: a target object is shown by its
// owner), null without a cluster section.
boost::json::object to_json(const decide::TargetRecord& rec, std::chrono::steady_clock::time_point now_steady,
                            std::chrono::system_clock::time_point now_wall, std::string_view owner = {});

}  // namespace healthsweep::sweeps
