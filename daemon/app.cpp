#include "daemon/app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <optional>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "clients/net/log_failure.hpp"
#include "daemon/auth.hpp"
#include "daemon/components.hpp"
#include "daemon/heap_trim.hpp"
#include "daemon/http_server.hpp"
#include "daemon/logging.hpp"
#include "daemon/loop_slice.hpp"
#include "daemon/routes.hpp"
#include "daemon/systemd_notify.hpp"
#include "daemon/wiring.hpp"
#include "metrics/liveness.hpp"
#include "metrics/handler_timing.hpp"
#include "metrics/loop_stall.hpp"
#include "metrics/metrics.hpp"

namespace healthsweep::daemon {

namespace net = boost::asio;
using metrics::Subsystem;

struct App::Impl {
  Impl(config::Config c, std::string path)
      : cfg(std::move(c)), config_path(std::move(path)), metrics(HEALTHSWEEP_VERSION) {}

  config::Config cfg;  // targets.static_targets emptied once the components took them
  std::string config_path;
  net::io_context ioc{1};
  metrics::Metrics metrics;
  metrics::LivenessRegistry liveness;
  std::unique_ptr<Components> components;
  std::unique_ptr<HttpServer> http;
  net::signal_set stop_signals{ioc, SIGTERM, SIGINT};
  net::signal_set reload_signal{ioc, SIGHUP};
  net::steady_timer watchdog{ioc};
  net::steady_timer log_drops{ioc};
  net::steady_timer loop_probe{ioc};
  net::steady_timer heap_trim{ioc};
  HeapTrimPolicy heap_trim_policy;
  bool stopping = false;
  Routes routes;

  void build_routes();
  void warn_about_token_file() const;
  void wait_stop_signal();
  void wait_reload_signal();
  void reload();
  void start_watchdog();
  void start_heap_trim();
  void watch_log_drops();
  void probe_loop_stalls();
  void shutdown();
  // Remediations and store writes still running (shutdown waits for them).
  std::size_t inflight() const { return components ? components->in_flight() : 0; }
};


void App::Impl::build_routes() { routes = daemon_routes(*components, metrics, liveness, cfg); }

void App::Impl::warn_about_token_file() const {
  if (auto warning = token_file_warning(cfg.token_file)) spdlog::warn("{}", *warning);
}

void App::Impl::wait_stop_signal() {
  stop_signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping (grace {} ms)", sig, cfg.shutdown_grace.count());
    shutdown();
  });
}

void App::Impl::wait_reload_signal() {
  reload_signal.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reload();
    wait_reload_signal();
  });
}

void App::Impl::reload() {
  auto result = config::load_file(config_path);
  if (!result.config) {
    for (const auto& e : result.errors)
      spdlog::error("config reload rejected, keeping the running configuration: {}", e.to_string());
    metrics.config_reload(false);
    return;
  }
  config::Config next = std::move(*result.config);
  // Settings read only at the start: the listener's, and redis.grace (the
  // passive layer's grace has grown to the largest TTL seen since the
  // start; a new floor would have to forget that).
  for (auto [changed, what] :
       {std::pair{next.listen.host != cfg.listen.host || next.listen.port != cfg.listen.port, "listen"},
        std::pair{next.redis.enabled && cfg.redis.enabled && next.redis.grace != cfg.redis.grace, "redis.grace"},
        std::pair{next.listen_max_connections_per_client != cfg.listen_max_connections_per_client,
                  "listen_max_connections_per_client"}})
    if (changed) spdlog::warn("config reload: {} changed; it takes effect at the next restart", what);
  // A changed redis section applies at once (PassiveLayer::reconfigure);
  // adding or removing it, like the other connections, waits for a restart.
  for (auto [changed, what] : {std::pair{next.redis.enabled != cfg.redis.enabled, "redis"},
                               std::pair{next.engine.enabled != cfg.engine.enabled ||
                                             next.engine.socket != cfg.engine.socket, "engine"},
                               std::pair{next.postgres.enabled != cfg.postgres.enabled ||
                                             next.postgres.dsn != cfg.postgres.dsn, "postgres"}})
    if (changed) spdlog::warn("config reload: {} connection changed; it takes effect at the next restart", what);
  next.listen = cfg.listen;
  next.listen_max_connections_per_client = cfg.listen_max_connections_per_client;
  setup_logging(next.log_level, next.log_format);
  components->reconfigure(next);
  config::release_static_targets(next);  // the fleet holds them (see run())
  cfg = std::move(next);
  metrics.config_reload(true);
  spdlog::info("config reloaded from {}", config_path);
  warn_about_token_file();
}

void App::Impl::start_heap_trim() {
  net::co_spawn(ioc, [this]() -> net::awaitable<void> {
    const auto glances_per_look = heap_trim_every / heap_glance_every;
    std::int64_t glances = 0;
    for (unsigned n = 0; !stopping; n = std::min(n + 1, heap_startup_looks)) {
      heap_trim.expires_after(heap_trim_wait(n));
      boost::system::error_code ec;
      co_await heap_trim.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (ec || stopping) co_return;
      // The startup's waits end in looks; then glances, a look every
      // heap_trim_every or as soon as the resident memory grew.
      const bool glance = n >= heap_startup_looks;
      if (glance && ++glances < glances_per_look && !heap_trim_policy.worth_a_look(resident_anonymous())) continue;
      glances = 0;
      const auto before = heap_use();
      const auto reason = heap_trim_policy.should_trim(before);
      if (reason == TrimReason::none) continue;
      const auto t0 = std::chrono::steady_clock::now();
      trim_heap();
      const auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
      auto after = before;
      after.resident = resident_anonymous();
      heap_trim_policy.trimmed(after);
      // After a load, once (info); free pages resident again, as often as a
      // large fleet's churn brings them back (about every check at 100,000
      // targets): debug.
      spdlog::log(reason == TrimReason::more_free ? spdlog::level::info : spdlog::level::debug,
                  "heap: {} MiB free of {} MiB in use handed back to the kernel in {:.1f} ms "
                  "(resident {} -> {} MiB)",
                  before.free >> 20, before.in_use >> 20, took.count(), before.resident >> 20, after.resident >> 20);
    }
  }, clients::net::log_failure("heap trim"));
}

void App::Impl::start_watchdog() {
  const auto period = watchdog_period();
  if (!period) return;
  spdlog::info("systemd watchdog: pinging every {} ms while the event loop and every sweep loop turn",
               std::chrono::duration_cast<std::chrono::milliseconds>(*period).count());
  net::co_spawn(ioc, [this, p = *period]() -> net::awaitable<void> {
    std::optional<Subsystem> was_late;
    while (!stopping) {
      // This coroutine running proves the event loop turns; late_loop() that
      // every sweep loop does. Whether Redis, the engine or PostgreSQL answer
      // is not asked (SPEC section 7): an outage is a stale subsystem in
      // /admin/liveness, and a restart of the daemon would mend nothing.
      const auto late = liveness.late_loop();
      if (!late) notify("WATCHDOG=1");
      if (late && late != was_late)
        spdlog::error("watchdog: the {} loop stopped turning; not feeding the watchdog", to_string(*late));
      else if (!late && was_late)
        spdlog::info("watchdog: the {} loop turns again; feeding the watchdog", to_string(*was_late));
      was_late = late;
      watchdog.expires_after(p);
      boost::system::error_code ec;
      co_await watchdog.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }, clients::net::log_failure("watchdog"));
}

// Every second: the dropped-lines counter follows the log queue's count, and
// once an outage of stderr is over one line says how many lines it cost.
void App::Impl::watch_log_drops() {
  net::co_spawn(ioc, [this]() -> net::awaitable<void> {
    DroppedLinesNotice notice;
    while (!stopping) {
      const auto dropped = log_lines_dropped();
      metrics.set_log_lines_dropped(dropped);
      if (const auto n = notice.observe(dropped, DroppedLinesNotice::clock::now()))
        spdlog::warn("log: {} lines dropped while stderr was not read fast enough ({} since start)", n,
                     dropped);
      log_drops.expires_after(std::chrono::seconds(1));
      boost::system::error_code ec;
      co_await log_drops.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }, clients::net::log_failure("log drops"));
}

// Every 10 ms: how late the wake ran is how long the loop was held
// (metrics/loop_stall.hpp), and the longest single handler since the last
// wake (metrics/handler_timing.hpp: one long handler or a crowded round).
// About 100 wakes a second of a few microseconds each: a cost too small to
// measure next to the sweeps it watches.
void App::Impl::probe_loop_stalls() {
  net::co_spawn(ioc, [this]() -> net::awaitable<void> {
    const auto series = metrics.loop_stall();
    metrics::StallSampler sampler(std::chrono::milliseconds(10));
    auto due = metrics::StallSampler::Clock::now();
    while (!stopping) {
      loop_probe.expires_at(due);
      boost::system::error_code ec;
      co_await loop_probe.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (stopping) break;
      due = sampler.observe(due, metrics::StallSampler::Clock::now(),
                            [&](double seconds) { series.stall.Observe(seconds); });
      series.longest.Set(std::chrono::duration<double>(sampler.longest()).count());
      namespace handlers = metrics::handler_timing;
      series.handler.Observe(std::chrono::duration<double>(handlers::take_longest_since()).count());
      series.handler_longest.Set(std::chrono::duration<double>(handlers::longest()).count());
      // Debug lines, for lining a profile up with the handlers to split
      // (bench/long_turns.py --handlers): when each began on the monotonic
      // clock and how long it held the loop.
      const auto lost = handlers::drain_long([](const handlers::LongHandler& h) {
        spdlog::debug("event loop: one handler held the loop {:.1f} ms (began at monotonic {} ns)",
                      std::chrono::duration<double, std::milli>(h.held).count(),
                      std::chrono::duration_cast<std::chrono::nanoseconds>(h.begun.time_since_epoch()).count());
      });
      if (lost > 0)
        spdlog::debug("event loop: {} more handlers held the loop {} ms or longer", lost,
                      std::chrono::duration_cast<std::chrono::milliseconds>(handlers::long_threshold).count());
    }
  }, clients::net::log_failure("loop stall probe"));
}

void App::Impl::shutdown() {
  if (stopping) return;
  stopping = true;
  notify("STOPPING=1");
  if (http) http->stop();
  if (components) components->stop();
  watchdog.cancel();
  log_drops.cancel();
  loop_probe.cancel();
  heap_trim.cancel();
  reload_signal.cancel();
  // In-flight work (remediations, store writes) gets shutdown_grace to
  // finish; then the loop stops whatever is left.
  net::co_spawn(ioc, [this]() -> net::awaitable<void> {
    if (components) co_await components->drain(cfg.shutdown_grace);
    if (inflight() > 0) spdlog::warn("shutdown grace over with {} operations in flight", inflight());
    ioc.stop();
  }, clients::net::log_failure("shutdown"));
}

namespace {

// Raises the soft file-descriptor limit to the hard one (systemd's default
// soft limit is 1024), before any component opens descriptors.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// The loop's thread asks for short slices (daemon/loop_slice.hpp), last
// before it runs: the threads started so far keep the kernel's default.
void ask_for_short_slices() {
  SliceChange change;
  if (const auto error = request_slice(loop_slice, change)) {
    spdlog::warn("loop: could not ask the kernel for short time slices: {}", error.message());
  } else if (!change.normal_policy) {
    spdlog::info("loop: not under the normal scheduling policy (real-time?); no time slice asked");
  } else {
    spdlog::info("loop: time slices of {} us asked, {} us in effect (the kernel's default {} us)",
                 loop_slice.count() / 1000, change.after.count() / 1000, change.before.count() / 1000);
  }
}

}  // namespace

App::App(config::Config config, std::string config_path)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(config_path))) {}

App::~App() = default;

int App::run() {
  auto& d = *impl_;
  setup_logging(d.cfg.log_level, d.cfg.log_format);
  spdlog::info("healthsweepd {} starting, config {}", HEALTHSWEEP_VERSION, d.config_path);
  d.warn_about_token_file();
  raise_fd_limit();
  // A file size limit (LimitFSIZE=) makes a spool write fail with EFBIG,
  // which the store survives, instead of killing the daemon with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  // hiredis 0.14 writes with write(2), not send(MSG_NOSIGNAL): a command
  // written to a Redis that has just reset the connection would kill the
  // daemon with SIGPIPE where it should see EPIPE and reconnect. systemd's
  // IgnoreSIGPIPE=yes covers the unit; this covers a daemon run from a shell.
  // (The fuzzer found it: fuzz_redis_reply's fake Redis hangs up mid-command.)
  std::signal(SIGPIPE, SIG_IGN);
  // Every liveness subsystem starts disabled; each layer enables its own when
  // it is configured, so an absent layer never makes the daemon stale.
  d.components = std::make_unique<Components>(d.ioc, d.cfg, d.metrics, d.liveness);
  // The components took the static targets into the fleet: nothing reads
  // this copy of them again, and at 100,000 targets it is 19 MiB.
  config::release_static_targets(d.cfg);
  d.build_routes();
  d.http = std::make_unique<HttpServer>(d.ioc.get_executor(), d.cfg.listen,
                                        [&d](Request&& req) { return route(d.routes, std::move(req)); },
                                        listener_limits(d.cfg), daemon_http_events(d.metrics));
  d.http->start();
  spdlog::info("listening on {}", d.http->local_address());
  d.wait_stop_signal();
  d.wait_reload_signal();
  d.components->start(d.http->local_address());
  // The startup lines reach the journal before systemd logs "Started"
  // (logging is asynchronous; deploy_systemd checks the order).
  flush_logging();
  notify("READY=1");
  d.start_watchdog();
  d.watch_log_drops();
  d.probe_loop_stalls();
  d.start_heap_trim();
  ask_for_short_slices();
  d.ioc.run();
  d.http.reset();
  d.components.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace healthsweep::daemon
