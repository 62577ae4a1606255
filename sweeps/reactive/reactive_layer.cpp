#include "sweeps/reactive/reactive_layer.hpp"
#include "clients/net/log_failure.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
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
        coalesced_total(m.reactive().coalesced), refused_total(m.reactive().refused),
        false_alarms_total(m.reactive().false_alarms), running_gauge(m.reactive().running),
        queued_gauge(m.reactive().queued) {}

  struct Flight {
    bool pending = false;
    std::uint32_t news_ahead = 0;   // news queued before this check's report, for its log line (in padding)
    steady::time_point finished{};  // last check's end; zero: never
    steady::time_point reported{};  // last hook report (admitted or not); zero: never
  };
  static_assert(sizeof(Flight) == 24, "one per target ever reported: keep it small");

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
  prometheus::Gauge& running_gauge;
  prometheus::Gauge& queued_gauge;
  std::unordered_map<std::string, Flight> flights;
  // Waiting for a slot, each in arrival order; news goes first.
  std::deque<Report> news, repeats;
  std::size_t running = 0;
  std::size_t running_repeats = 0;  // of `running`
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  bool stopped = false;

  std::size_t waiting() const { return news.size() + repeats.size(); }
  // After every change of `running` or the queues (two atomic stores).
  void publish() {
    running_gauge.Set(static_cast<double>(running));
    queued_gauge.Set(static_cast<double>(waiting()));
  }
  std::chrono::milliseconds repeat_horizon() const {
    return std::max(options.repeat_within, 2 * options.coalesce_window);
  }
  bool slot_for(bool repeat) const {
    return running < options.max_concurrent && (!repeat || running_repeats < options.max_concurrent_repeats);
  }
  // Repeats may fill three quarters of the queue; the last quarter is for
  // news, so a storm that outruns the engine meets 429s and news does not.
  bool room_for(bool repeat) const {
    return repeat ? repeats.size() < options.max_queued - options.max_queued / 4 : waiting() < options.max_queued;
  }
  void launch(Report r, bool repeat);
  void launch_waiting();
  net::awaitable<void> run_check(Report r, bool repeat);
  net::awaitable<void> tick_loop();
};

void ReactiveLayer::Impl::launch(Report r, bool repeat) {
  ++running;
  if (repeat) ++running_repeats;
  ++started;
  net::co_spawn(executor, run_check(std::move(r), repeat),
                clients::net::log_failure("reactive: check", [self = shared_from_this()] {}));
}

// Fills the free slots from the queues: news first, then repeats within
// their own bound.
void ReactiveLayer::Impl::launch_waiting() {
  while (!stopped && slot_for(false) && !news.empty()) {
    Report next = std::move(news.front());
    news.pop_front();
    launch(std::move(next), false);
  }
  while (!stopped && slot_for(true) && !repeats.empty()) {
    Report next = std::move(repeats.front());
    repeats.pop_front();
    launch(std::move(next), true);
  }
  publish();
}

net::awaitable<void> ReactiveLayer::Impl::run_check(Report r, bool repeat) {
  auto self = shared_from_this();
  const auto began = steady::now();
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
  if (repeat) --running_repeats;
  ++completed;
  auto& f = flights[r.target];
  f.pending = false;
  f.finished = steady::now();
  // News found dead (a target nobody questioned lately). A dead target that
  // keeps being reported is a repeat from then on and stays quiet, so one
  // target logs at most once per repeat horizon. The split says whether a slow
  // verdict waited for a slot and the loop, or for the check (the engine's
  // answer and the wake-up that reads it); the news queued ahead of it says
  // whether a slot's wait was behind other news or for a slot to free.
  if (ev.verdict == Verdict::dead && !repeat && !r.admin_sweep) {
    const auto ms_after = [&](steady::time_point t) {
      return std::chrono::duration<double, std::milli>(t - r.received).count();
    };
    spdlog::info("reactive: {} dead ({}), verdict {:.1f} ms after the report (check began {:.1f} ms after it, "
                 "behind {} news)",
                 r.target, ev.reason, ms_after(f.finished), ms_after(began), f.news_ahead);
  }
  if (!stopped) sink(std::move(ev));
  launch_waiting();
}

net::awaitable<void> ReactiveLayer::Impl::tick_loop() {
  auto self = shared_from_this();
  // Fresh while the path works: nothing waiting, or checks completing. A
  // queue that does not move (checks stuck) stops the ticks and goes stale.
  std::uint64_t last_completed = completed;
  const auto period = std::max(options.stale_after / 4, std::chrono::milliseconds(100));
  while (!stopped) {
    liveness.loop_tick(metrics::Subsystem::reactive);  // the loop turns, stuck checks or not
    if ((running == 0 && waiting() == 0) || completed != last_completed)
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
  // tick_loop turns every max(stale_after / 4, 100 ms) and awaits nothing else.
  impl_->liveness.watch_loop(metrics::Subsystem::reactive,
                             std::max(impl_->options.stale_after, std::chrono::milliseconds(400)));
  net::co_spawn(impl_->executor, impl_->tick_loop(), clients::net::log_failure("reactive ticker"));
}

void ReactiveLayer::stop() {
  impl_->stopped = true;
  impl_->news.clear();
  impl_->repeats.clear();
  impl_->publish();
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
  // A repeat is a target reported within the horizon, whatever became of
  // those reports: a storm's drumming. Counting from the last check's end
  // instead, a storm whose checks ran late (the engine busy with a sweep's
  // list) turned into news and buried the report of a target that had just
  // died (issue 15, run P3: hook -> verdict p99 908 ms). An operator's admin
  // sweep is always news, and is no report.
  const bool repeat = !force && f.reported != steady::time_point{} &&
                      r.received - f.reported < d.repeat_horizon();
  if (!force) f.reported = r.received;
  const bool recent = f.finished != steady::time_point{} &&
                      r.received - f.finished < d.options.coalesce_window;
  if (f.pending || (recent && !force)) {
    d.coalesced_total.Increment();
    return Admission::coalesced;
  }
  f.news_ahead = static_cast<std::uint32_t>(d.news.size());
  if (d.slot_for(repeat) && (repeat ? d.repeats.empty() : d.news.empty())) {
    f.pending = true;
    d.launch(std::move(r), repeat);
    d.publish();
    return Admission::started;
  }
  if (d.room_for(repeat)) {
    f.pending = true;
    (repeat ? d.repeats : d.news).push_back(std::move(r));
    d.publish();
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
std::size_t ReactiveLayer::queued() const { return impl_->waiting(); }
std::uint64_t ReactiveLayer::checks_started() const { return impl_->started; }

}  // namespace healthsweep::sweeps::reactive
