#include "metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "metrics/liveness.hpp"
#include "metrics/process_metrics.hpp"

namespace healthsweep::metrics {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

const Histogram::BucketBoundaries& latency_buckets() {
  static const Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30, 60};
  return b;
}

// Series of one family cached by label values: Family::Add hashes all labels
// under a mutex, which is too slow for per-request paths.
template <class T>
class SeriesCache {
 public:
  SeriesCache(Family<T>& family, std::vector<std::string> label_names)
      : family_(family), names_(std::move(label_names)) {}

  template <class... Extra>
  T& get(std::initializer_list<std::string_view> values, Extra&&... extra) {
    std::string key;
    for (auto v : values) { key.append(v); key.push_back('\x1f'); }
    if (auto it = cache_.find(key); it != cache_.end()) return *it->second;
    prometheus::Labels labels;
    auto name = names_.begin();
    for (auto v : values) labels.emplace(*name++, std::string(v));
    T& series = family_.Add(labels, std::forward<Extra>(extra)...);
    cache_.emplace(std::move(key), &series);
    return series;
  }

 private:
  Family<T>& family_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, T*> cache_;
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ProcessMetrics process{*registry};

  Family<Gauge>& build_info = prometheus::BuildGauge().Name("healthsweep_build_info")
      .Help("Build information; always 1.").Register(*registry);
  Family<Gauge>& targets_f = prometheus::BuildGauge().Name("healthsweep_targets")
      .Help("Targets by state.").Register(*registry);
  Family<Gauge>& subsystem_up_f = prometheus::BuildGauge().Name("healthsweep_subsystem_up")
      .Help("1 when the subsystem's last successful tick is fresh, 0 when stale.").Register(*registry);
  Family<Gauge>& last_tick_f = prometheus::BuildGauge()
      .Name("healthsweep_subsystem_last_tick_timestamp_seconds")
      .Help("Unix time of the subsystem's last successful tick.").Register(*registry);
  Family<Counter>& sweep_runs_f = prometheus::BuildCounter().Name("healthsweep_sweep_runs_total")
      .Help("Sweeps run, by sweep and result.").Register(*registry);
  Family<Histogram>& sweep_duration_f = prometheus::BuildHistogram()
      .Name("healthsweep_sweep_duration_seconds").Help("Duration of sweeps.").Register(*registry);
  Family<Counter>& detections_f = prometheus::BuildCounter().Name("healthsweep_detections_total")
      .Help("Dead targets detected, by layer.").Register(*registry);
  Family<Histogram>& detection_latency_f = prometheus::BuildHistogram()
      .Name("healthsweep_detection_latency_seconds")
      .Help("From the moment a target died (TTL deadline, hook received, engine event) to the verdict.")
      .Register(*registry);
  Family<Counter>& transitions_f = prometheus::BuildCounter().Name("healthsweep_transitions_total")
      .Help("Target state transitions.").Register(*registry);
  Family<Counter>& remediations_f = prometheus::BuildCounter()
      .Name("healthsweep_remediations_total").Help("Remediation actions by result.").Register(*registry);
  Family<Counter>& hook_requests_f = prometheus::BuildCounter()
      .Name("healthsweep_hook_requests_total").Help("Hook requests by HTTP status code.").Register(*registry);
  Family<Gauge>& failsafe_f = prometheus::BuildGauge().Name("healthsweep_failsafe_active")
      .Help("1 while remediation is paused by the fail-safe.").Register(*registry);
  Family<Gauge>& spool_f = prometheus::BuildGauge().Name("healthsweep_store_spool_events")
      .Help("Events waiting in the spool for PostgreSQL.").Register(*registry);
  Family<Counter>& reloads_f = prometheus::BuildCounter().Name("healthsweep_config_reloads_total")
      .Help("Configuration reloads (SIGHUP) by result.").Register(*registry);

  SeriesCache<Gauge> targets{targets_f, {"state"}};
  SeriesCache<Gauge> subsystem_up{subsystem_up_f, {"subsystem"}};
  SeriesCache<Gauge> last_tick{last_tick_f, {"subsystem"}};
  SeriesCache<Counter> sweep_runs{sweep_runs_f, {"sweep", "result"}};
  SeriesCache<Histogram> sweep_duration{sweep_duration_f, {"sweep"}};
  SeriesCache<Counter> detections{detections_f, {"layer"}};
  SeriesCache<Histogram> detection_latency{detection_latency_f, {"layer"}};
  SeriesCache<Counter> transitions{transitions_f, {"from", "to"}};
  SeriesCache<Counter> remediations{remediations_f, {"action", "result"}};
  SeriesCache<Counter> hook_requests{hook_requests_f, {"code"}};
  SeriesCache<Counter> reloads{reloads_f, {"result"}};
  Gauge& failsafe = failsafe_f.Add({});
  Gauge& spool = spool_f.Add({});

  std::unordered_map<std::string, Family<Counter>*> extra_families;
  std::unordered_map<std::string, Counter*> extra_series;
  std::unordered_map<std::string, Gauge*> extra_gauges;
};

Metrics::Metrics(std::string_view version) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", std::string(version)}}).Set(1);
  // Series that exist from the start, so alerts and dashboards see zeros, not gaps.
  for (auto s : {"unknown", "online", "suspect", "offline", "restarting", "quarantined", "paused"})
    impl_->targets.get({s});
  for (auto l : {"passive", "proactive", "reactive"}) {
    impl_->detections.get({l});
    impl_->detection_latency.get({l}, latency_buckets());
  }
  for (auto a : {"restart", "webhook", "mark_offline"})
    for (auto r : {"ok", "error", "suppressed"}) impl_->remediations.get({a, r});
  for (auto r : {"ok", "error"}) impl_->reloads.get({r});
}

Metrics::~Metrics() = default;

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

std::string Metrics::scrape(const LivenessRegistry& liveness) {
  impl_->process.refresh();
  const auto view = liveness.view();
  for (const auto& s : view.subsystems) {
    const auto name = to_string(s.subsystem);
    if (s.status == Status::disabled) continue;  // a disabled subsystem has no series
    impl_->subsystem_up.get({name}).Set(s.status == Status::ok ? 1 : 0);
    if (s.last_tick)
      impl_->last_tick.get({name}).Set(
          std::chrono::duration<double>(s.last_tick->time_since_epoch()).count());
  }
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, impl_->registry->Collect());
  return out.str();
}

void Metrics::detection(std::string_view layer, double latency_seconds) {
  impl_->detections.get({layer}).Increment();
  impl_->detection_latency.get({layer}, latency_buckets())
      .Observe(latency_seconds < 0 ? 0 : latency_seconds);
}

void Metrics::sweep_run(std::string_view sweep, bool ok, double duration_seconds) {
  impl_->sweep_runs.get({sweep, ok ? "ok" : "error"}).Increment();
  impl_->sweep_duration.get({sweep}, latency_buckets()).Observe(duration_seconds);
}

void Metrics::transition(std::string_view from, std::string_view to) {
  impl_->transitions.get({from, to}).Increment();
}

void Metrics::remediation(std::string_view action, std::string_view result) {
  impl_->remediations.get({action, result}).Increment();
}

void Metrics::hook_request(int status_code) {
  char code[8];
  std::snprintf(code, sizeof code, "%d", status_code);
  impl_->hook_requests.get({code}).Increment();
}

void Metrics::set_targets(std::string_view state, double count) {
  impl_->targets.get({state}).Set(count);
}

void Metrics::set_failsafe(bool active) { impl_->failsafe.Set(active ? 1 : 0); }

void Metrics::set_spool_events(double count) { impl_->spool.Set(count); }

void Metrics::config_reload(bool ok) { impl_->reloads.get({ok ? "ok" : "error"}).Increment(); }

prometheus::Counter& Metrics::counter(std::string_view name, std::string_view help,
                                      std::string_view label, std::string_view value) {
  std::string key(name);
  key.push_back('\x1f');
  key.append(value);
  if (auto it = impl_->extra_series.find(key); it != impl_->extra_series.end()) return *it->second;
  auto& fam = impl_->extra_families[std::string(name)];
  if (!fam)
    fam = &prometheus::BuildCounter().Name(std::string(name)).Help(std::string(help))
               .Register(*impl_->registry);
  prometheus::Labels labels;
  if (!label.empty()) labels.emplace(std::string(label), std::string(value));
  auto& series = fam->Add(labels);
  impl_->extra_series.emplace(std::move(key), &series);
  return series;
}

prometheus::Gauge& Metrics::gauge(std::string_view name, std::string_view help) {
  auto& g = impl_->extra_gauges[std::string(name)];
  if (!g)
    g = &prometheus::BuildGauge().Name(std::string(name)).Help(std::string(help))
             .Register(*impl_->registry).Add({});
  return *g;
}

}  // namespace healthsweep::metrics
