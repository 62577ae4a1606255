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

#include "metrics/families.hpp"
#include "metrics/liveness.hpp"
#include "metrics/process_metrics.hpp"
#include "metrics/register_family.hpp"

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

// From a tenth of a millisecond (a loop turn's own cost) to a second; the
// 5 ms bound is issue 15's goal for the stall p99.
const Histogram::BucketBoundaries& stall_buckets() {
  static const Histogram::BucketBoundaries b{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01,
                                             0.02,   0.05,    0.1,    0.25,  0.5,   1};
  return b;
}

// Series of one family cached by label values: Family::Add hashes all labels
// under a mutex, which is too slow for per-request paths. The label names are
// the family's own (families.hpp).
template <class T>
class SeriesCache {
 public:
  SeriesCache(prometheus::Registry& registry, const FamilySpec& spec)
      : family_(register_family<T>(registry, spec)), spec_(spec) {}

  template <class... Extra>
  T& get(std::initializer_list<std::string_view> values, Extra&&... extra) {
    std::string key;
    for (auto v : values) { key.append(v); key.push_back('\x1f'); }
    if (auto it = cache_.find(key); it != cache_.end()) return *it->second;
    prometheus::Labels labels;
    auto name = spec_.labels.begin();
    for (auto v : values) labels.emplace(std::string(*name++), std::string(v));
    T& series = family_.Add(labels, std::forward<Extra>(extra)...);
    cache_.emplace(std::move(key), &series);
    return series;
  }

 private:
  Family<T>& family_;
  const FamilySpec& spec_;
  std::unordered_map<std::string, T*> cache_;
};

// The one series of a family without labels.
template <class T>
T& single(prometheus::Registry& registry, const FamilySpec& spec) {
  return register_family<T>(registry, spec).Add({});
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Registry& r = *registry;
  ProcessMetrics process{r};

  // SPEC section 5
  SeriesCache<Gauge> build_info{r, family::build_info};
  SeriesCache<Gauge> targets{r, family::targets};
  SeriesCache<Gauge> subsystem_up{r, family::subsystem_up};
  SeriesCache<Gauge> last_tick{r, family::subsystem_last_tick};
  SeriesCache<Counter> sweep_runs{r, family::sweep_runs};
  SeriesCache<Histogram> sweep_duration{r, family::sweep_duration};
  SeriesCache<Counter> detections{r, family::detections};
  SeriesCache<Histogram> detection_latency{r, family::detection_latency};
  SeriesCache<Counter> transitions{r, family::transitions};
  SeriesCache<Counter> remediations{r, family::remediations};
  SeriesCache<Counter> hook_requests{r, family::hook_requests};
  Counter& auth_failures = single<Counter>(r, family::auth_failures);
  Gauge& failsafe = single<Gauge>(r, family::failsafe_active);
  Gauge& spool = single<Gauge>(r, family::store_spool_events);
  Counter& spool_write_errors = single<Counter>(r, family::store_spool_write_errors);
  Counter& events_dropped = single<Counter>(r, family::store_events_dropped);
  Counter& log_lines_dropped = single<Counter>(r, family::log_lines_dropped);

  // Extras
  SeriesCache<Counter> reloads{r, family::config_reloads};
  SeriesCache<Counter> connections_refused{r, family::http_connections_refused};
  SeriesCache<Gauge> reactive_checks{r, family::reactive_checks};
  ReactiveMetrics reactive{single<Counter>(r, family::reactive_coalesced),
                           single<Counter>(r, family::reactive_refused),
                           single<Counter>(r, family::reactive_false_alarms),
                           reactive_checks.get({"running"}), reactive_checks.get({"queued"})};
  ProactiveMetrics proactive{single<Counter>(r, family::proactive_overruns),
                             single<Counter>(r, family::proactive_event_deaths),
                             single<Counter>(r, family::proactive_process_exits),
                             single<Gauge>(r, family::proactive_watched_processes),
                             single<Gauge>(r, family::proactive_event_stream_up)};
  ClusterMetrics cluster{single<Gauge>(r, family::cluster_members), single<Gauge>(r, family::cluster_lease_held),
                         single<Gauge>(r, family::cluster_epoch),
                         single<Counter>(r, family::cluster_lease_renew_failures),
                         single<Counter>(r, family::cluster_leases_lost)};
  OwnershipMetrics ownership{single<Gauge>(r, family::cluster_targets_owned),
                             single<Gauge>(r, family::cluster_targets_peer_owned),
                             single<Gauge>(r, family::cluster_targets_unowned),
                             single<Counter>(r, family::cluster_targets_taken_over),
                             single<Counter>(r, family::cluster_targets_handed_over)};
  LoopStallMetrics loop_stall{register_family<Histogram>(r, family::event_loop_stall).Add({}, stall_buckets()),
                              single<Gauge>(r, family::event_loop_stall_max),
                              register_family<Histogram>(r, family::event_loop_handler).Add({}, stall_buckets()),
                              single<Gauge>(r, family::event_loop_handler_max)};
};

Metrics::Metrics(std::string_view version) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.get({version}).Set(1);
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
  for (auto r : {"per_client_cap", "evicted", "cap"}) impl_->connections_refused.get({r});
}

Metrics::~Metrics() = default;

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
void Metrics::spool_write_error() { impl_->spool_write_errors.Increment(); }
void Metrics::store_event_dropped() { impl_->events_dropped.Increment(); }

void Metrics::set_log_lines_dropped(std::uint64_t total) {
  // A counter only rises: add what the total gained since the last call.
  const double gained = static_cast<double>(total) - impl_->log_lines_dropped.Value();
  if (gained > 0) impl_->log_lines_dropped.Increment(gained);
}

void Metrics::config_reload(bool ok) { impl_->reloads.get({ok ? "ok" : "error"}).Increment(); }

void Metrics::auth_failure() { impl_->auth_failures.Increment(); }

void Metrics::connection_refused(std::string_view reason) {
  impl_->connections_refused.get({reason}).Increment();
}

ReactiveMetrics Metrics::reactive() { return impl_->reactive; }

ProactiveMetrics Metrics::proactive() { return impl_->proactive; }

ClusterMetrics Metrics::cluster() { return impl_->cluster; }

OwnershipMetrics Metrics::ownership() { return impl_->ownership; }
LoopStallMetrics Metrics::loop_stall() { return impl_->loop_stall; }

}  // namespace healthsweep::metrics
