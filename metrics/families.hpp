// Every metric family the daemon exposes, in one place: name, type, label
// names and help text. SPEC section 5 lists the contract; the extras below it
// are the daemon's own (config reloads, the layers' counters). Dashboards and
// alert rules in deploy/ read these names: change one only with them.
// Metrics registers exactly this list at construction, and components reach
// the series through Metrics' typed methods and handles, never by name, so no
// component can invent a family.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace healthsweep::metrics {

enum class Kind { counter, gauge, histogram };
std::string_view to_string(Kind k);

struct FamilySpec {
  std::string_view name;
  Kind kind;
  std::array<std::string_view, 2> labels;  // label names; empty ones unused
  std::string_view help;
};

namespace family {

// SPEC section 5
inline constexpr FamilySpec build_info{
    "healthsweep_build_info", Kind::gauge, {"version"}, "Build information; always 1."};
inline constexpr FamilySpec targets{
    "healthsweep_targets", Kind::gauge, {"state"}, "Targets by state."};
inline constexpr FamilySpec subsystem_up{
    "healthsweep_subsystem_up", Kind::gauge, {"subsystem"},
    "1 when the subsystem's last successful tick is fresh, 0 when stale."};
inline constexpr FamilySpec subsystem_last_tick{
    "healthsweep_subsystem_last_tick_timestamp_seconds", Kind::gauge, {"subsystem"},
    "Unix time of the subsystem's last successful tick."};
inline constexpr FamilySpec sweep_runs{
    "healthsweep_sweep_runs_total", Kind::counter, {"sweep", "result"},
    "Sweeps run, by sweep and result."};
inline constexpr FamilySpec sweep_duration{
    "healthsweep_sweep_duration_seconds", Kind::histogram, {"sweep"}, "Duration of sweeps."};
inline constexpr FamilySpec detections{
    "healthsweep_detections_total", Kind::counter, {"layer"}, "Dead targets detected, by layer."};
inline constexpr FamilySpec detection_latency{
    "healthsweep_detection_latency_seconds", Kind::histogram, {"layer"},
    "From the moment a target died (TTL deadline, hook received, engine event) to the verdict."};
inline constexpr FamilySpec transitions{
    "healthsweep_transitions_total", Kind::counter, {"from", "to"}, "Target state transitions."};
inline constexpr FamilySpec remediations{
    "healthsweep_remediations_total", Kind::counter, {"action", "result"},
    "Remediation actions by result."};
inline constexpr FamilySpec hook_requests{
    "healthsweep_hook_requests_total", Kind::counter, {"code"}, "Hook requests by HTTP status code."};
inline constexpr FamilySpec auth_failures{
    "healthsweep_auth_failures_total", Kind::counter, {},
    "Requests refused for a missing or wrong bearer token (401)."};
inline constexpr FamilySpec failsafe_active{
    "healthsweep_failsafe_active", Kind::gauge, {}, "1 while remediation is paused by the fail-safe."};
inline constexpr FamilySpec store_spool_events{
    "healthsweep_store_spool_events", Kind::gauge, {}, "Events waiting in the spool for PostgreSQL."};

// Standard process metrics (the names the Prometheus client libraries use)
inline constexpr FamilySpec process_resident_memory{
    "process_resident_memory_bytes", Kind::gauge, {}, "Resident memory size in bytes."};
inline constexpr FamilySpec process_virtual_memory{
    "process_virtual_memory_bytes", Kind::gauge, {}, "Virtual memory size in bytes."};
inline constexpr FamilySpec process_cpu{
    "process_cpu_seconds_total", Kind::counter, {}, "Total user and system CPU time spent in seconds."};
inline constexpr FamilySpec process_open_fds{
    "process_open_fds", Kind::gauge, {}, "Number of open file descriptors."};
inline constexpr FamilySpec process_max_fds{
    "process_max_fds", Kind::gauge, {}, "Maximum number of open file descriptors."};
inline constexpr FamilySpec process_start_time{
    "process_start_time_seconds", Kind::gauge, {},
    "Start time of the process since unix epoch in seconds."};

// Extras: the daemon's own
inline constexpr FamilySpec config_reloads{
    "healthsweep_config_reloads_total", Kind::counter, {"result"},
    "Configuration reloads (SIGHUP) by result."};
inline constexpr FamilySpec http_connections_refused{
    "healthsweep_http_connections_refused_total", Kind::counter, {"reason"},
    "Connections the listener closed by its own rules, by reason (per_client_cap, evicted, cap)."};
inline constexpr FamilySpec reactive_coalesced{
    "healthsweep_reactive_coalesced_total", Kind::counter, {},
    "Hook reports answered from a pending or recent check."};
inline constexpr FamilySpec reactive_refused{
    "healthsweep_reactive_refused_total", Kind::counter, {},
    "Hook reports refused (429) because the check queue was full."};
inline constexpr FamilySpec reactive_false_alarms{
    "healthsweep_reactive_false_alarms_total", Kind::counter, {},
    "Hook reports whose check found the target alive."};
// How deep the reactive path is right now: a queue that grows while running
// stays at its bound means the engine answers slower than reports arrive.
inline constexpr FamilySpec reactive_checks{
    "healthsweep_reactive_checks", Kind::gauge, {"state"},
    "Reactive checks (hook reports and admin sweeps) now running against the engine, or queued for a slot."};
inline constexpr FamilySpec proactive_overruns{
    "healthsweep_proactive_overruns_total", Kind::counter, {},
    "Proactive sweeps that took longer than the interval."};
inline constexpr FamilySpec proactive_event_deaths{
    "healthsweep_proactive_event_deaths_total", Kind::counter, {},
    "Container deaths seen on the engine's event stream."};
inline constexpr FamilySpec proactive_process_exits{
    "healthsweep_proactive_process_exits_total", Kind::counter, {},
    "Container deaths seen as the exit of the container's main process (pidfd)."};
inline constexpr FamilySpec proactive_watched_processes{
    "healthsweep_proactive_watched_processes", Kind::gauge, {},
    "Containers whose main process is watched for its exit (pidfd)."};
inline constexpr FamilySpec proactive_event_stream_up{
    "healthsweep_proactive_event_stream_up", Kind::gauge, {},
    "1 while the engine's /events stream is open (its answer's header received), 0 while it reconnects."};
inline constexpr FamilySpec store_spool_write_errors{
    "healthsweep_store_spool_write_errors_total", Kind::counter, {},
    "Failed writes of the spool file (disk full, I/O error); events wait in memory meanwhile."};
inline constexpr FamilySpec store_events_dropped{
    "healthsweep_store_events_dropped_total", Kind::counter, {},
    "Events dropped because the spool could not be written and the memory queue was full."};
inline constexpr FamilySpec log_lines_dropped{
    "healthsweep_log_lines_dropped_total", Kind::counter, {},
    "Log lines dropped because stderr was not read fast enough and the log queue was full."};
// The event loop's probe (metrics/loop_stall.hpp): every verdict waits behind
// whatever holds the loop, so this is the floor under every latency.
inline constexpr FamilySpec event_loop_stall{
    "healthsweep_event_loop_stall_seconds", Kind::histogram, {},
    "How long work arriving on the event loop waited for it, sampled every 10 ms and counted over time "
    "(each wake that fell due during a stall counts, so long stalls are not under-counted)."};
inline constexpr FamilySpec event_loop_stall_max{
    "healthsweep_event_loop_stall_max_seconds", Kind::gauge, {},
    "The longest single stall of the event loop since the daemon started."};
// A stall is one long handler or many short ones queued in one round of the
// reactor; only the first is cut by splitting a handler (handler_timing.hpp).
inline constexpr FamilySpec event_loop_handler{
    "healthsweep_event_loop_handler_seconds", Kind::histogram, {},
    "The longest single handler the event loop ran in each 10 ms window of the stall probe "
    "(0 for a window with none)."};
inline constexpr FamilySpec event_loop_handler_max{
    "healthsweep_event_loop_handler_max_seconds", Kind::gauge, {},
    "The longest single handler the event loop ran since the daemon started."};

inline constexpr FamilySpec cluster_members{
    "healthsweep_cluster_members", Kind::gauge, {},
    "Instances whose lease in PostgreSQL is live, as this instance last read them (cluster section)."};
inline constexpr FamilySpec cluster_lease_held{
    "healthsweep_cluster_lease_held", Kind::gauge, {},
    "1 while this instance holds its lease and is within its renew deadline (may remediate), else 0."};
inline constexpr FamilySpec cluster_epoch{
    "healthsweep_cluster_epoch", Kind::gauge, {},
    "The epoch of this instance's current lease (fencing token; 0 while it holds none)."};
inline constexpr FamilySpec cluster_lease_renew_failures{
    "healthsweep_cluster_lease_renew_failures_total", Kind::counter, {},
    "Lease acquisitions or renewals that PostgreSQL did not answer in time or refused with an error."};
inline constexpr FamilySpec cluster_leases_lost{
    "healthsweep_cluster_leases_lost_total", Kind::counter, {},
    "Times this instance stopped holding its lease: fenced by its renew deadline, or found expired."};
// Ownership (issue 14), as this instance sees it from the members it last
// read; updated when ownership is recomputed, never by a walk per scrape.
inline constexpr FamilySpec cluster_targets_owned{
    "healthsweep_cluster_targets_owned", Kind::gauge, {},
    "Targets this instance owns and judges (cluster section; 0 without it)."};
inline constexpr FamilySpec cluster_targets_peer_owned{
    "healthsweep_cluster_targets_peer_owned", Kind::gauge, {},
    "Targets this instance knows of that a live peer owns."};
inline constexpr FamilySpec cluster_targets_unowned{
    "healthsweep_cluster_targets_unowned", Kind::gauge, {},
    "Targets this instance knows of that no member eligible to own them owns right now (judged by nobody)."};
inline constexpr FamilySpec cluster_targets_taken_over{
    "healthsweep_cluster_targets_taken_over_total", Kind::counter, {},
    "Targets this instance took up because ownership moved to it (a peer left or lost its lease, this "
    "instance joined, its engine was identified, a pin moved)."};
inline constexpr FamilySpec cluster_targets_handed_over{
    "healthsweep_cluster_targets_handed_over_total", Kind::counter, {},
    "Targets this instance let go because ownership moved away from it (a peer joined, this instance lost "
    "its lease, a pin moved)."};

}  // namespace family

// Every family above, each once.
std::span<const FamilySpec> all_families();

}  // namespace healthsweep::metrics
