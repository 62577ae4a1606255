// What the HTTP side of the daemon is connected to: the routes wired to the
// components, metrics, liveness and token, the listener's own events wired
// to the metrics, and its limits. App uses these; so does the fuzz_http_request
// harness, so that it drives the same wiring as the daemon.
#pragma once

#include "config/config.hpp"
#include "daemon/components.hpp"
#include "daemon/http_server.hpp"
#include "daemon/routes.hpp"

namespace healthsweep::metrics { class Metrics; class LivenessRegistry; }

namespace healthsweep::daemon {

// The bearer token of `cfg` is read at each request, so a reload's token
// applies. Every reference must outlive the returned Routes.
Routes daemon_routes(Components& components, metrics::Metrics& metrics,
                     metrics::LivenessRegistry& liveness, const config::Config& cfg);

// The listener's own answers on the hook path count in
// healthsweep_hook_requests_total like the routes' answers (SPEC section 5);
// the connections it refuses, by reason.
HttpEvents daemon_http_events(metrics::Metrics& metrics);

// The listener's limits for `cfg`: the per-client cap it configures, and
// the connection cap kept below the descriptor limit.
HttpLimits listener_limits(const config::Config& cfg);

}  // namespace healthsweep::daemon
