// The daemon's Prometheus metrics (SPEC section 5) on a prometheus-cpp core
// registry. Every family of families.hpp is created here at construction,
// and only those: components record through the typed methods and handles
// below and cannot invent a name. Names are checked at start, never at
// scrape time; hot paths get cached series pointers.
// No metric carries a per-target label: series count never grows with the fleet.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace prometheus { class Registry; class Counter; class Gauge; class Histogram; }

namespace healthsweep::metrics {

class LivenessRegistry;

// The reactive layer's counters and gauges (families.hpp: reactive_*).
struct ReactiveMetrics {
  prometheus::Counter& coalesced;
  prometheus::Counter& refused;
  prometheus::Counter& false_alarms;
  prometheus::Gauge& running;  // healthsweep_reactive_checks{state="running"}
  prometheus::Gauge& queued;   // healthsweep_reactive_checks{state="queued"}
};

// The proactive layer's counters and gauge (families.hpp: proactive_*).
struct ProactiveMetrics {
  prometheus::Counter& overruns;
  prometheus::Counter& event_deaths;
  prometheus::Counter& process_exits;
  prometheus::Gauge& watched_processes;
  prometheus::Gauge& event_stream_up;
};

// The cluster membership's gauges and counters (families.hpp: cluster_*).
struct ClusterMetrics {
  prometheus::Gauge& members;
  prometheus::Gauge& lease_held;
  prometheus::Gauge& epoch;
  prometheus::Counter& renew_failures;
  prometheus::Counter& leases_lost;
};

// Who owns the targets this instance knows of (families.hpp: cluster_targets_*).
struct OwnershipMetrics {
  prometheus::Gauge& owned;
  prometheus::Gauge& peer_owned;
  prometheus::Gauge& unowned;
  prometheus::Counter& taken_over;
  prometheus::Counter& handed_over;
};

// The event loop's stall probe (families.hpp: event_loop_stall*, event_loop_handler*).
struct LoopStallMetrics {
  prometheus::Histogram& stall;
  prometheus::Gauge& longest;
  prometheus::Histogram& handler;  // the longest handler of each probe window
  prometheus::Gauge& handler_longest;
};

class Metrics {
 public:
  explicit Metrics(std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Text exposition format 0.0.4 of everything, including process_* metrics
  // and the liveness gauges, refreshed at the time of the call.
  std::string scrape(const LivenessRegistry& liveness);

  // layer: passive | proactive | reactive
  void detection(std::string_view layer, double latency_seconds);
  // sweep: e.g. proactive, passive_reconcile
  void sweep_run(std::string_view sweep, bool ok, double duration_seconds);
  void transition(std::string_view from, std::string_view to);
  // action: restart | webhook | mark_offline; result: ok | error | suppressed
  void remediation(std::string_view action, std::string_view result);
  void hook_request(int status_code);
  void set_targets(std::string_view state, double count);
  void set_failsafe(bool active);
  void set_spool_events(double count);
  // The spool file could not be written (each failed append or rewrite).
  void spool_write_error();
  // An event lost: the spool unwritable and the memory queue full.
  void store_event_dropped();
  void config_reload(bool ok);
  // Log lines dropped since the start (the log queue's own count, read by
  // the daemon: metrics may not use it); the counter follows it.
  void set_log_lines_dropped(std::uint64_t total);

  // Failed bearer auth (401), on any endpoint.
  void auth_failure();
  // The listener closed a connection by its own rules:
  // reason: per_client_cap | evicted | cap
  void connection_refused(std::string_view reason);

  // A layer's own series, created with the rest at construction; the
  // references live as long as this Metrics.
  ReactiveMetrics reactive();
  ProactiveMetrics proactive();
  ClusterMetrics cluster();
  OwnershipMetrics ownership();
  LoopStallMetrics loop_stall();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::metrics
