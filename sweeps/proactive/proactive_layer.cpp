#include "sweeps/proactive/proactive_layer.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "sweeps/proactive/process_exit_watch.hpp"
#include "sweeps/proactive/target_check.hpp"
#include "clients/net/tcp_checker.hpp"

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;

namespace net = boost::asio;
using steady = std::chrono::steady_clock;
using metrics::Subsystem;
using namespace boost::asio::experimental::awaitable_operators;

namespace {
constexpr auto label_paused = "healthsweep.paused";
constexpr auto label_http = "healthsweep.http";
}  // namespace

struct ProactiveLayer::Impl : std::enable_shared_from_this<ProactiveLayer::Impl> {
  Impl(net::any_io_executor ex, const config::Config& cfg, EngineClient* e, HttpChecker& h,
       ProactiveOutputs o, metrics::Metrics& m, metrics::LivenessRegistry& l)
      : executor(ex), proactive(cfg.proactive), stale_after(cfg.liveness_stale_after),
        label(cfg.targets.engine_label), engine(e), http(h),
        out(std::move(o)), metrics(m), liveness(l), wait_timer(ex), retry_timer(ex),
        discovery_timer(ex), targets_refresh(cfg.targets.targets_refresh),
        overruns(m.counter("healthsweep_proactive_overruns_total",
                           "Proactive sweeps that took longer than the interval.")),
        event_deaths(m.counter("healthsweep_proactive_event_deaths_total",
                               "Container deaths seen on the engine's event stream.")),
        process_exits(m.counter("healthsweep_proactive_process_exits_total",
                                "Container deaths seen as the exit of the container's main process (pidfd).")),
        watched(m.gauge("healthsweep_proactive_watched_processes",
                        "Containers whose main process is watched for its exit (pidfd).")) {
    watch_wanted = e && cfg.engine.watch_processes;
    if (watch_wanted && ProcessExitWatch::supported())
      exits = std::make_unique<ProcessExitWatch>(ex, [this](const ProcessExit& pe) { on_process_exit(pe); });
  }

  net::any_io_executor executor;
  config::Proactive proactive;
  std::chrono::milliseconds stale_after;
  std::string label;
  EngineClient* engine;
  HttpChecker& http;
  ProactiveOutputs out;
  metrics::Metrics& metrics;
  metrics::LivenessRegistry& liveness;
  net::steady_timer wait_timer;   // between sweeps
  net::steady_timer retry_timer;  // event stream reconnect backoff
  net::steady_timer discovery_timer;
  std::chrono::milliseconds targets_refresh;
  steady::time_point last_discovery{};
  prometheus::Counter& overruns;
  prometheus::Counter& event_deaths;
  prometheus::Counter& process_exits;
  prometheus::Gauge& watched;
  // Container main processes watched through pidfds (null: off or no pidfds).
  std::unique_ptr<ProcessExitWatch> exits;
  bool watch_wanted = false;
  std::deque<std::pair<std::string, std::string>> to_arm;  // target id, container id: inspect, then watch
  bool arming = false;
  // Running containers of the last list: name and id -> full id.
  std::unordered_map<std::string, std::string> running_ids;
  // Containers whose process cannot be watched (another PID namespace, ...):
  // not inspected again at every sweep; forgotten once they leave the list.
  std::unordered_set<std::string> unwatchable;
  std::mt19937 rng{std::random_device{}()};
  std::unordered_map<std::string, std::string> id_by_container;  // container name/id -> target id
  std::optional<bool> engine_was_healthy;
  std::optional<std::chrono::system_clock::time_point> last_event_time;
  bool stopped = false;
  bool poll_requested = false;
  int failures = 0;  // consecutive sweeps that could not ask the engine
  // When the event stream last said something about a target: a sweep whose
  // list was asked for before that is older news and says nothing of it.
  std::unordered_map<std::string, steady::time_point> last_event_at;
  std::uint64_t sweeps = 0;

  void set_engine_health(bool healthy, const std::string& why);
  std::chrono::milliseconds next_interval();
  net::awaitable<void> poll_loop();
  net::awaitable<bool> sweep();  // false: the engine could not be asked
  net::awaitable<bool> list_containers(std::unordered_map<std::string, Finding>& by_container,
                                       steady::time_point deadline);
  std::vector<TargetSpec> discover(const std::vector<ContainerSummary>& listed);
  net::awaitable<void> discovery_loop();
  net::awaitable<std::vector<std::vector<Finding>>> run_probes(const std::vector<TargetSpec>& targets);
  net::awaitable<void> events_loop();
  void on_event(const EngineEvent& ev);
  net::awaitable<void> confirm_started(std::string id, std::string container);
  void arm_watches(const std::vector<TargetSpec>& targets);
  net::awaitable<void> arm_loop();
  void watch_process(const std::string& id, const ContainerInfo& info);
  void on_process_exit(const ProcessExit& exit);
  std::string target_of(const EngineEvent& ev) const;
};

void ProactiveLayer::Impl::set_engine_health(bool healthy, const std::string& why) {
  if (engine_was_healthy == healthy) return;
  engine_was_healthy = healthy;
  if (healthy) spdlog::info("engine: reachable again");
  else spdlog::error("engine: unreachable ({}): no dead verdicts from the engine until it is back", why);
  if (out.engine_healthy) out.engine_healthy(healthy);
}

std::chrono::milliseconds ProactiveLayer::Impl::next_interval() {
  // Jitter spreads the sweeps of many daemons (and this one's load) around
  // the interval: interval * (1 ± jitter).
  std::uniform_real_distribution<double> d(-proactive.jitter, proactive.jitter);
  const double f = 1.0 + d(rng);
  return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(proactive.interval.count()) * f));
}

net::awaitable<void> ProactiveLayer::Impl::poll_loop() {
  auto self = shared_from_this();
  while (!stopped) {
    const auto start = steady::now();
    poll_requested = false;
    const bool ok = co_await sweep();
    failures = ok ? 0 : failures + 1;
    ++sweeps;
    const auto took = steady::now() - start;
    if (took > proactive.interval) {
      overruns.Increment();
      spdlog::warn("proactive sweep took {} ms, longer than the interval",
                   std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    }
    if (poll_requested || stopped) continue;
    // The next sweep starts an interval after this one started; an overrun
    // starts the next one at once instead of doubling up.
    // After a failed sweep the engine is asked again soon (1 s doubling up
    // to the interval), not an interval later: with an hourly poll one
    // failed answer must not blind the layer for an hour.
    auto next = next_interval();
    if (failures > 0)
      next = std::min(next, std::chrono::milliseconds(1000LL << std::min(failures - 1, 16)));
    wait_timer.expires_at(start + next);
    boost::system::error_code ec;
    co_await wait_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

std::vector<TargetSpec> ProactiveLayer::Impl::discover(const std::vector<ContainerSummary>& listed) {
  std::vector<TargetSpec> specs;
  if (label.empty()) return specs;
  for (const auto& c : listed) {
    auto it = c.labels.find(label);
    if (it == c.labels.end() || it->second.empty()) continue;
    TargetSpec spec;
    spec.id = it->second;
    spec.container = c.name.empty() ? c.id : c.name;
    if (auto p = c.labels.find(label_paused); p != c.labels.end()) spec.paused = p->second == "true";
    if (auto h = c.labels.find(label_http); h != c.labels.end()) spec.http = h->second;
    specs.push_back(std::move(spec));
  }
  last_discovery = steady::now();
  if (out.discovered) out.discovered(specs);
  return specs;
}

net::awaitable<void> ProactiveLayer::Impl::discovery_loop() {
  auto self = shared_from_this();
  // The poll discovers at every sweep; with a poll interval longer than
  // targets_refresh, this keeps discovery at targets_refresh.
  while (!stopped) {
    discovery_timer.expires_after(targets_refresh);
    boost::system::error_code ec;
    co_await discovery_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (stopped || steady::now() - last_discovery < targets_refresh) continue;
    auto listed = co_await engine->list(label);
    if (stopped) co_return;
    if (!listed.ok()) {
      set_engine_health(false, listed.error);
      continue;
    }
    set_engine_health(true, "");
    liveness.tick(Subsystem::engine);
    discover(listed.value);
  }
}

net::awaitable<bool> ProactiveLayer::Impl::list_containers(
    std::unordered_map<std::string, Finding>& by_container, steady::time_point deadline) {
  auto listed = co_await engine->list_with_health(label, deadline);
  if (!listed.ok()) {
    set_engine_health(false, listed.error);
    co_return false;
  }
  // Targets that name their container themselves (static ones): their
  // container's events are theirs too, by name or by id.
  std::unordered_map<std::string, std::string> named;
  bool unlisted = false;
  for (const auto& t : out.targets())
    if (!t.container.empty()) named.emplace(t.container, t.id);
  std::unordered_map<std::string, std::string> ids;  // container name/id -> target id
  std::unordered_map<std::string, std::string> running;
  auto note = [&](const ContainerSummary& c) {
    if (c.state == "running") running[c.name] = running[c.id] = c.id;
    const auto finding = container_finding(c.state, c.health, c.status);
    by_container.try_emplace(c.name, finding);
    by_container.try_emplace(c.id, finding);
    auto it = named.find(c.name);
    if (it == named.end()) it = named.find(c.id);
    if (it != named.end()) ids[c.id] = ids[c.name] = it->second;
  };

  for (const auto& c : listed.value) note(c);
  for (const auto& spec : discover(listed.value)) ids[spec.container] = spec.id;
  for (const auto& c : listed.value)
    if (auto it = ids.find(c.name); it != ids.end()) ids[c.id] = it->second;

  // Static targets naming containers without the label: one unfiltered list
  // for all of them (still one call for the fleet, not one per target).
  for (const auto& [container, id] : named) unlisted = unlisted || !by_container.count(container);
  if (unlisted) {
    ListQuery everything;
    everything.deadline = deadline;
    auto all = co_await engine->list(std::move(everything));
    if (!all.ok()) {
      set_engine_health(false, all.error);
      co_return false;
    }
    for (const auto& c : all.value) note(c);
  }
  id_by_container = std::move(ids);
  running_ids = std::move(running);
  set_engine_health(true, "");
  liveness.tick(Subsystem::engine);
  co_return true;
}

net::awaitable<std::vector<std::vector<Finding>>> ProactiveLayer::Impl::run_probes(
    const std::vector<TargetSpec>& targets) {
  // Every target's HTTP/TCP checks at once (probe_findings, the same fold the
  // hook and the admin sweep use); HttpChecker bounds how many are really in
  // flight. Each result lands in its target's slot; the sweep waits for the
  // last one.
  std::vector<std::vector<Finding>> results(targets.size());
  auto pending = std::make_shared<std::size_t>(0);
  net::steady_timer all_done(executor, steady::time_point::max());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].http.empty() && !targets[i].tcp) continue;
    ++*pending;
    net::co_spawn(executor, [&, i]() -> net::awaitable<void> {
      results[i] = co_await probe_findings(executor, targets[i], &http, proactive.timeout);
    }, clients::net::log_failure("proactive: probe", [&, pending] { if (--*pending == 0) all_done.cancel(); }));
  }
  if (*pending > 0) {
    boost::system::error_code ec;
    co_await all_done.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  co_return results;
}

net::awaitable<bool> ProactiveLayer::Impl::sweep() {
  const auto t0 = steady::now();  // the engine is asked now: the evidence is this old
  // The sweep's deadline is `timeout`: the engine's list and every HTTP/TCP
  // check run at once, each bounded by it.
  const auto deadline = t0 + proactive.timeout;
  const auto probed = out.targets();
  std::unordered_map<std::string, Finding> by_container;
  bool engine_ok = true;
  std::vector<std::vector<Finding>> probes;
  if (engine)
    std::tie(engine_ok, probes) = co_await (list_containers(by_container, deadline) && run_probes(probed));
  else
    probes = co_await run_probes(probed);

  // Targets the list has just discovered were not probed: their container's
  // state counts now, their HTTP/TCP checks from the next sweep on.
  std::unordered_map<std::string_view, std::size_t> probe_slot;
  for (std::size_t i = 0; i < probed.size(); ++i) probe_slot.emplace(probed[i].id, i);
  const auto targets = out.targets();
  for (const auto& t : targets) {
    std::vector<Finding> findings;
    if (!t.container.empty() && engine) {
      if (!engine_ok) {
        findings.push_back({Verdict::unknown, false, "engine unreachable"});
      } else if (auto it = by_container.find(t.container); it != by_container.end()) {
        findings.push_back(it->second);
      } else {
        findings.push_back({Verdict::dead, true, "container " + t.container + " not found"});
      }
    }
    if (auto slot = probe_slot.find(t.id); slot != probe_slot.end())
      for (auto& f : probes[slot->second]) findings.push_back(std::move(f));
    if (findings.empty()) continue;  // nothing this layer can look at
    if (auto e = last_event_at.find(t.id); e != last_event_at.end() && e->second >= t0)
      continue;  // the event stream spoke after the list was asked for
    Finding f = fold(findings);
    if (stopped) co_return engine_ok;
    out.evidence(Evidence{t.id, Layer::proactive, f.verdict, std::move(f.reason), f.conclusive, t0});
  }
  std::erase_if(last_event_at, [&](const auto& kv) { return kv.second < t0; });
  if (engine_ok) arm_watches(targets);
  const double secs = std::chrono::duration<double>(steady::now() - t0).count();
  metrics.sweep_run("proactive", engine_ok, secs);
  if (engine_ok) liveness.tick(Subsystem::proactive);
  co_return engine_ok;
}

std::string ProactiveLayer::Impl::target_of(const EngineEvent& ev) const {
  if (!label.empty())
    if (auto it = ev.attributes.find(label); it != ev.attributes.end() && !it->second.empty())
      return it->second;
  if (auto it = id_by_container.find(ev.name); it != id_by_container.end()) return it->second;
  if (auto it = id_by_container.find(ev.id); it != id_by_container.end()) return it->second;
  return {};
}

void ProactiveLayer::Impl::on_event(const EngineEvent& ev) {
  last_event_time = ev.time;
  const std::string id = target_of(ev);
  if (id.empty()) return;
  // A labelled container we have not listed yet (created after the last
  // sweep), or one removed (Docker says destroy, Podman remove): discovery
  // runs now rather than at the next sweep.
  const bool known = id_by_container.count(ev.name) || id_by_container.count(ev.id);
  if ((!known && (ev.action == "create" || ev.action == "start")) || ev.action == "destroy" || ev.action == "remove") {
    poll_requested = true;
    wait_timer.cancel();
  }
  // When the engine saw it, on our steady clock: detection latency counts
  // from the engine's event, not from when we read it.
  const auto now = steady::now();
  const auto age = std::chrono::system_clock::now() - ev.time;
  const auto observed = age > std::chrono::system_clock::duration::zero()
                            ? now - std::chrono::duration_cast<steady::duration>(age) : now;
  if (ev.action == "die" || ev.action == "oom" || ev.action == "start" || ev.action == "restart" ||
      ev.action == "health_status")
    last_event_at[id] = now;
  if (ev.action == "die" || ev.action == "oom") {
    event_deaths.Increment();
    std::string reason = ev.action == "oom" ? "container OOM-killed" : "container died";
    if (ev.exit_code) reason += " (exit code " + std::to_string(*ev.exit_code) + ")";
    out.evidence(Evidence{id, Layer::proactive, Verdict::dead, std::move(reason), true, observed});
  } else if (ev.action == "start" || ev.action == "restart") {
    if (out.started) out.started(id, "container started (engine event)");
    net::co_spawn(executor, confirm_started(id, ev.name.empty() ? ev.id : ev.name),
                  clients::net::log_failure("proactive: confirm start"));
  } else if (ev.action == "health_status") {
    if (ev.health == "healthy")
      out.evidence(Evidence{id, Layer::proactive, Verdict::alive, "container healthy", true, observed});
    else if (ev.health == "unhealthy")
      out.evidence(Evidence{id, Layer::proactive, Verdict::dead, "container unhealthy", false, observed});
  }
}

net::awaitable<void> ProactiveLayer::Impl::confirm_started(std::string id, std::string container) {
  auto self = shared_from_this();
  // A container without a health check is alive once it runs; one with a
  // health check proves it with its health_status event.
  auto info = co_await engine->inspect(container);
  if (stopped || !info.ok()) co_return;
  watch_process(id, info.value);
  const Finding f = container_finding(info.value);
  if (f.verdict == Verdict::alive)
    out.evidence(Evidence{id, Layer::proactive, Verdict::alive, f.reason, true, steady::now()});
}

void ProactiveLayer::Impl::arm_watches(const std::vector<TargetSpec>& targets) {
  if (!exits) return;
  // The list has no PIDs: each running container not watched yet is
  // inspected once (one at a time, so the fleet's first sweep does not crowd
  // the engine). Later sweeps only inspect containers that changed.
  std::unordered_set<std::string> present;
  for (const auto& t : targets) {
    if (t.container.empty()) continue;
    present.insert(t.id);
    auto it = running_ids.find(t.container);
    if (it == running_ids.end()) {
      exits->forget(t.id);
      continue;
    }
    if (!exits->watching(t.id, it->second) && !unwatchable.count(it->second)) to_arm.emplace_back(t.id, it->second);
  }
  exits->retain([&](const std::string& id) { return present.count(id) > 0; });
  watched.Set(static_cast<double>(exits->size()));
  std::erase_if(unwatchable, [&](const std::string& c) { return !running_ids.count(c); });
  if (!to_arm.empty() && !arming) {
    arming = true;
    net::co_spawn(executor, arm_loop(), clients::net::log_failure("proactive: process watch arming"));
  }
}

net::awaitable<void> ProactiveLayer::Impl::arm_loop() {
  auto self = shared_from_this();
  while (!to_arm.empty() && !stopped) {
    auto [id, container] = std::move(to_arm.front());
    to_arm.pop_front();
    if (exits->watching(id, container)) continue;  // a start event armed it meanwhile
    auto info = co_await engine->inspect(container);
    if (stopped) break;
    if (info.ok()) watch_process(id, info.value);
  }
  arming = false;
}

void ProactiveLayer::Impl::watch_process(const std::string& id, const ContainerInfo& info) {
  if (!exits || !info.running || info.pid <= 0) return;
  const auto r = exits->watch(id, info.id, info.pid);
  watched.Set(static_cast<double>(exits->size()));
  if (r == WatchResult::not_container || r == WatchResult::unsupported) {
    // Not a failure: the events stream and the poll still cover it.
    if (unwatchable.insert(info.id).second)
      spdlog::debug("proactive: container {} (pid {}) not watched: {}", info.name, info.pid, to_string(r));
  }
}

void ProactiveLayer::Impl::on_process_exit(const ProcessExit& exit) {
  // The container's main process is gone: the container is dead, as surely
  // as a `die` event says, and sooner. A sweep asked before now is older news.
  last_event_at[exit.key] = exit.when;
  process_exits.Increment();
  watched.Set(static_cast<double>(exits->size()));
  out.evidence(Evidence{exit.key, Layer::proactive, Verdict::dead,
                        "container process exited (pid " + std::to_string(exit.pid) + ")", true, exit.when});
}

net::awaitable<void> ProactiveLayer::Impl::events_loop() {
  auto self = shared_from_this();
  auto backoff = std::chrono::milliseconds(100);
  while (!stopped) {
    // Every container event: those of labelled containers and of the
    // containers static targets name; target_of() drops the rest.
    EventsQuery q;
    // Replay from the last event seen so a reconnect loses nothing; on the
    // first connect, from now.
    q.since = last_event_time ? *last_event_time : std::chrono::system_clock::now();
    bool connected = false;
    auto r = co_await engine->follow_events(q, [this](const EngineEvent& ev) { on_event(ev); },
                                            [&] { connected = true; });
    if (stopped) co_return;
    spdlog::warn("engine: event stream ended ({}); reconnecting in {} ms", r.error, backoff.count());
    retry_timer.expires_after(backoff);
    boost::system::error_code ec;
    co_await retry_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    backoff = connected ? std::chrono::milliseconds(100) : std::min(backoff * 2, std::chrono::milliseconds(5000));
    // Whatever the stream missed, a full poll catches.
    if (!stopped) { poll_requested = true; wait_timer.cancel(); }
  }
}

ProactiveLayer::ProactiveLayer(net::any_io_executor ex, const config::Config& config,
                               EngineClient* engine, HttpChecker& http, ProactiveOutputs outputs,
                               metrics::Metrics& metrics, metrics::LivenessRegistry& liveness)
    : impl_(std::make_shared<Impl>(ex, config, engine, http, std::move(outputs), metrics, liveness)) {}

ProactiveLayer::~ProactiveLayer() { stop(); }

void ProactiveLayer::start() {
  auto& d = *impl_;
  // Fresh while sweeps succeed: allow a whole interval (plus its timeout and
  // jitter) between ticks before calling it stale.
  const auto sweep_budget = std::chrono::duration_cast<std::chrono::milliseconds>(
      d.proactive.interval * (1.0 + d.proactive.jitter) + d.proactive.timeout * 2);
  d.liveness.enable(Subsystem::proactive, std::max(sweep_budget, d.stale_after));
  if (d.engine) d.liveness.enable(Subsystem::engine, std::max(sweep_budget, d.stale_after));
  using clients::net::log_failure;
  net::co_spawn(d.executor, d.poll_loop(), log_failure("proactive poll"));
  if (d.engine) net::co_spawn(d.executor, d.events_loop(), log_failure("proactive events"));
  if (d.engine && !d.label.empty()) net::co_spawn(d.executor, d.discovery_loop(), log_failure("proactive discovery"));
  if (d.engine)
    spdlog::info("proactive: container process watch {}", d.exits ? "on (pidfd)"
                 : d.watch_wanted ? "off: this kernel or seccomp filter refuses pidfd_open"
                                            : "off (engine.watch_processes: false)");
}

void ProactiveLayer::stop() {
  impl_->stopped = true;
  if (impl_->exits) impl_->exits->stop();
  impl_->wait_timer.cancel();
  impl_->retry_timer.cancel();
  impl_->discovery_timer.cancel();
  if (impl_->engine) impl_->engine->stop_events();
}

void ProactiveLayer::configure(const config::Config& config) {
  impl_->proactive = config.proactive;
  impl_->targets_refresh = config.targets.targets_refresh;
}

void ProactiveLayer::poll_now() {
  impl_->poll_requested = true;
  impl_->wait_timer.cancel();
}

std::uint64_t ProactiveLayer::sweeps_done() const { return impl_->sweeps; }

}  // namespace healthsweep::sweeps::proactive
