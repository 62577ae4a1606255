#include "sweeps/reactive/reactive_layer.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

namespace healthsweep::sweeps::reactive {

using namespace healthsweep::sweeps::decide;

namespace net = boost::asio;

struct ReactiveLayer::Impl : std::enable_shared_from_this<ReactiveLayer::Impl> {
  Impl(net::any_io_executor ex, Options o, Check c, EvidenceSink s, metrics::Metrics& m,
       metrics::LivenessRegistry& l)
      : executor(ex), options(o), check(std::move(c)), sink(std::move(s)), metrics(m),
        liveness(l), ticker(ex),
        coalesced_total(m.counter("healthsweep_reactive_coalesced_total",
                                  "Hook reports answered from a pending or recent check.")),
        refused_total(m.counter("healthsweep_reactive_refused_total",
                                "Hook reports refused (429) because the check queue was full.")),
        false_alarms_total(m.counter("healthsweep_reactive_false_alarms_total",
                                     "Hook reports whose check found the target alive.")) {}

  struct Flight {
    bool pending = false;
    steady::time_point finished{};  // last check's end; zero: never
  };

  net::any_io_executor executor;
  Options options;
  Check check;
  EvidenceSink sink;
  metrics::Metrics& metrics;
  metrics::LivenessRegistry& liveness;
  net::steady_timer ticker;
  prometheus::Counter& coalesced_total;
  prometheus::Counter& refused_total;
  prometheus::Counter& false_alarms_total;
  std::unordered_map<std::string, Flight> flights;
  std::deque<Report> queue;
  std::size_t running = 0;
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  bool stopped = false;

  void launch(Report r);
  net::awaitable<void> run_check(Report r);
  net::awaitable<void> tick_loop();
};

void ReactiveLayer::Impl::launch(Report r) {
  ++running;
  ++started;
  net::co_spawn(executor, run_check(std::move(r)), clients::net::log_failure("reactive: check", [self = shared_from_this()] {}));
}

net::awaitable<void> ReactiveLayer::Impl::run_check(Report r) {
  auto self = shared_from_this();
  Evidence ev = co_await check(r);
  if (r.admin_sweep) {
    ev.layer = Layer::proactive;
    ev.reason = "admin sweep: " + ev.reason;
  } else {
    ev.layer = Layer::reactive;
    ev.observed_at = r.received;
  }
  if (ev.verdict == Verdict::alive && !r.admin_sweep) {
    false_alarms_total.Increment();
    ev.reason = "false alarm: " + (r.error.empty() ? std::string("connection error") : r.error) +
                (r.source.empty() ? "" : " (from " + r.source + ")") + "; " + ev.reason;
  }
  --running;
  ++completed;
  auto& f = flights[r.target];
  f.pending = false;
  f.finished = steady::now();
  if (!stopped) sink(std::move(ev));
  // Next waiting report, if any (its target may have been checked meanwhile:
  // then it is answered by this result and needs no second call).
  while (!stopped && running < options.max_concurrent && !queue.empty()) {
    Report next = std::move(queue.front());
    queue.pop_front();
    launch(std::move(next));
  }
}

net::awaitable<void> ReactiveLayer::Impl::tick_loop() {
  auto self = shared_from_this();
  // Fresh while the path works: nothing waiting, or checks completing. A
  // queue that does not move (checks stuck) stops the ticks and goes stale.
  std::uint64_t last_completed = completed;
  const auto period = std::max(options.stale_after / 4, std::chrono::milliseconds(100));
  while (!stopped) {
    if ((running == 0 && queue.empty()) || completed != last_completed)
      liveness.tick(metrics::Subsystem::reactive);
    last_completed = completed;
    ticker.expires_after(period);
    boost::system::error_code ec;
    co_await ticker.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

ReactiveLayer::ReactiveLayer(net::any_io_executor ex, Options options, Check check,
                             EvidenceSink sink, metrics::Metrics& metrics,
                             metrics::LivenessRegistry& liveness)
    : impl_(std::make_shared<Impl>(ex, options, std::move(check), std::move(sink), metrics,
                                   liveness)) {}

ReactiveLayer::~ReactiveLayer() { stop(); }

void ReactiveLayer::start() {
  impl_->liveness.enable(metrics::Subsystem::reactive, impl_->options.stale_after);
  impl_->liveness.tick(metrics::Subsystem::reactive);
  net::co_spawn(impl_->executor, impl_->tick_loop(), clients::net::log_failure("reactive ticker"));
}

void ReactiveLayer::stop() {
  impl_->stopped = true;
  impl_->queue.clear();
  impl_->ticker.cancel();
}

void ReactiveLayer::set_coalesce_window(std::chrono::milliseconds w) {
  impl_->options.coalesce_window = w;
}

ReactiveLayer::Admission ReactiveLayer::sweep(std::string target) {
  Report r{std::move(target), {}, {}, steady::now(), true};
  return report(std::move(r));
}

ReactiveLayer::Admission ReactiveLayer::report(Report r) {
  auto& d = *impl_;
  const bool force = r.admin_sweep;
  auto& f = d.flights[r.target];
  const bool recent = f.finished != steady::time_point{} &&
                      r.received - f.finished < d.options.coalesce_window;
  if (f.pending || (recent && !force)) {
    d.coalesced_total.Increment();
    return Admission::coalesced;
  }
  if (d.running < d.options.max_concurrent) {
    f.pending = true;
    d.launch(std::move(r));
    return Admission::started;
  }
  if (d.queue.size() < d.options.max_queued) {
    f.pending = true;
    d.queue.push_back(std::move(r));
    return Admission::queued;
  }
  d.refused_total.Increment();
  return Admission::refused;
}

void ReactiveLayer::forget(std::string_view target) {
  auto it = impl_->flights.find(std::string(target));
  if (it != impl_->flights.end() && !it->second.pending) impl_->flights.erase(it);
}

std::size_t ReactiveLayer::in_flight() const { return impl_->running; }
std::size_t ReactiveLayer::queued() const { return impl_->queue.size(); }
std::uint64_t ReactiveLayer::checks_started() const { return impl_->started; }

}  // namespace healthsweep::sweeps::reactive
