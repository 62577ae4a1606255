#include "daemon/wiring.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <memory>

#include "daemon/log_limit.hpp"
#include "daemon/logging.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/proactive/process_exit_watch.hpp"

namespace healthsweep::daemon {

Routes daemon_routes(Components& components, metrics::Metrics& metrics,
                     metrics::LivenessRegistry& liveness, const config::Config& cfg) {
  Routes routes;
  routes.metrics = [&metrics, &liveness] {
    metrics.set_log_lines_dropped(log_lines_dropped());  // as of this scrape, not the last tick
    return metrics.scrape(liveness);
  };
  routes.liveness = [&liveness] {
    const auto view = liveness.view();
    return std::pair{view.status == metrics::Status::ok, metrics::to_json(view)};
  };
  routes.local_targets = [&components](TargetQuery q) { return components.local_targets(std::move(q)); };
  routes.target = [&components](std::string_view id) { return components.target_json(id); };
  routes.hook = [&components](HookReport&& r, HookRequest&& as_sent) {
    return components.hook(std::move(r), std::move(as_sent));
  };
  if (components.lists_fleet())
    routes.fleet_targets = [&components](TargetQuery q) { return components.fleet_targets(std::move(q)); };
  routes.sweep = [&components](std::string_view id) { return components.sweep(id); };
  routes.reset = [&components](std::string_view id) { return components.reset(id); };
  routes.cluster = [&components] { return components.cluster_json(); };
  routes.hook_answered = [&metrics](int code) { metrics.hook_request(code); };
  // healthsweep_auth_failures_total exists (0) from the start (metrics/families).
  // One limiter shared by every copy of the routes.
  routes.auth_failed = [&metrics, log = std::make_shared<LogEverySecond>()](std::string_view target) {
    metrics.auth_failure();
    std::size_t suppressed = 0;
    if (log->allow(suppressed))
      spdlog::warn("http: missing or wrong bearer token for {} ({} more refusals not logged)", target,
                   suppressed);
  };
  routes.token = [&cfg]() -> const std::optional<std::string>& { return cfg.token; };
  return routes;
}

HttpEvents daemon_http_events(metrics::Metrics& metrics) {
  HttpEvents events;
  events.answered_itself = [&metrics](std::string_view target, int status) {
    if (is_hook_path(target)) metrics.hook_request(status);
  };
  events.connection_refused = [&metrics](std::string_view reason) { metrics.connection_refused(reason); };
  return events;
}

// Keeps the connection cap well below the descriptor limit, minus 128 for
// everything else and what the process watch may hold (a quarter of it,
// when it runs), so the cap, not EMFILE, is what a connection flood meets.
HttpLimits listener_limits(const config::Config& cfg) {
  HttpLimits limits;
  limits.max_connections_per_client = static_cast<std::size_t>(cfg.listen_max_connections_per_client);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur > 256) {
    const bool watching = cfg.engine.enabled && cfg.engine.watch_processes;
    const rlim_t watches = watching ? sweeps::proactive::ProcessExitWatch::default_max_watches() : 0;
    const rlim_t room = std::max<rlim_t>(64, lim.rlim_cur - 128 - std::min<rlim_t>(watches, lim.rlim_cur - 192));
    limits.max_connections = std::min<std::size_t>(limits.max_connections, room);
  }
  return limits;
}

}  // namespace healthsweep::daemon
