// The daemon's Prometheus metrics (SPEC section 5) on a prometheus-cpp core
// registry. Families are created once here so that names are checked at
// start, never at scrape time; hot paths get cached series pointers.
// No metric carries a per-target label: series count never grows with the fleet.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace prometheus { class Registry; class Counter; class Gauge; class Histogram; }

namespace healthsweep::metrics {

class LivenessRegistry;

class Metrics {
 public:
  explicit Metrics(std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry();

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
  void config_reload(bool ok);

  // A counter with one optional label, for a layer's own counters
  // (healthsweep_reactive_coalesced_total, ..._proactive_overruns_total).
  // Created on first use; same name returns the same series.
  prometheus::Counter& counter(std::string_view name, std::string_view help,
                               std::string_view label = {},
                               std::string_view value = {});
  // A gauge without labels, for a layer's own gauges
  // (healthsweep_proactive_watched_processes). Same name, same series.
  prometheus::Gauge& gauge(std::string_view name, std::string_view help);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::metrics
