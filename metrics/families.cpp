#include "metrics/families.hpp"

namespace healthsweep::metrics {

std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::counter: return "counter";
    case Kind::gauge: return "gauge";
    case Kind::histogram: return "histogram";
  }
  return "untyped";
}

std::span<const FamilySpec> all_families() {
  using namespace family;
  static constexpr FamilySpec all[] = {
      build_info, targets, subsystem_up, subsystem_last_tick, sweep_runs, sweep_duration,
      detections, detection_latency, transitions, remediations, hook_requests, auth_failures,
      failsafe_active, store_spool_events,
      process_resident_memory, process_virtual_memory, process_cpu, process_open_fds,
      process_max_fds, process_start_time,
      config_reloads, http_connections_refused, reactive_coalesced, reactive_refused,
      reactive_false_alarms, reactive_checks, proactive_overruns, proactive_event_deaths, proactive_process_exits,
      proactive_watched_processes, proactive_event_stream_up, store_spool_write_errors,
      store_events_dropped, log_lines_dropped, event_loop_stall, event_loop_stall_max,
      event_loop_handler, event_loop_handler_max, cluster_members, cluster_lease_held, cluster_epoch,
      cluster_lease_renew_failures, cluster_leases_lost, cluster_targets_owned, cluster_targets_peer_owned,
      cluster_targets_unowned, cluster_targets_taken_over, cluster_targets_handed_over,
  };
  return all;
}

}  // namespace healthsweep::metrics
