#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/proactive/proactive_layer_impl.hpp"
#include "sweeps/proactive/release_in_stretches.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "clients/http/checker.hpp"
#include "clients/net/log_failure.hpp"
#include "metrics/liveness.hpp"
#include "sweeps/proactive/discovery_digest.hpp"

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;

using metrics::Subsystem;
using namespace boost::asio::experimental::awaitable_operators;

namespace {
constexpr auto label_paused = "healthsweep.paused";
constexpr auto label_http = "healthsweep.http";
}  // namespace

ProactiveLayer::Impl::Impl(net::any_io_executor ex, const config::Config& cfg, EngineClient* e,
                           HttpChecker& h, ProactiveOutputs o, metrics::Metrics& m,
                           metrics::LivenessRegistry& l)
    : executor(ex), proactive(cfg.proactive), stale_after(cfg.liveness_stale_after),
      label(cfg.targets.engine_label), engine(e), http(h),
      out(std::move(o)), metrics(m), liveness(l), wait_timer(ex), retry_timer(ex),
      discovery_timer(ex), targets_refresh(cfg.targets.targets_refresh),
      counters(m.proactive()),
      arming(ex, arm_workers, [this](ArmRequest r) { return arm_one(std::move(r)); },
             [this](const ArmRequest& r) { return arm_settled(r); }) {
  watch_wanted = e && cfg.engine.watch_processes;
  if (watch_wanted && ProcessExitWatch::supported())
    exits = std::make_unique<ProcessExitWatch>(ex, [this](const ProcessExit& pe) { on_process_exit(pe); });
}

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

// A whole interval (plus jitter) between sweeps, and the sweep's timeout
// twice over: the budget for both the evidence (proactive, engine) and the
// poll loop's own turns.
std::chrono::milliseconds ProactiveLayer::Impl::sweep_budget() const {
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(
      proactive.interval * (1.0 + proactive.jitter) + proactive.timeout * 2);
  return std::max(budget, stale_after);
}

net::awaitable<void> ProactiveLayer::Impl::poll_loop() {
  auto self = shared_from_this();
  while (!stopped) {
    const auto start = steady::now();
    // The loop's own heartbeat: it turns whether or not the engine answers.
    liveness.loop_tick(Subsystem::proactive, start);
    poll_requested = false;
    const bool ok = co_await sweep();
    liveness.loop_tick(Subsystem::proactive);
    failures = ok ? 0 : failures + 1;
    ++sweeps;
    const auto took = steady::now() - start;
    if (took > proactive.interval) {
      counters.overruns.Increment();
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

net::awaitable<std::vector<TargetSpec>> ProactiveLayer::Impl::snapshot_targets() {
  std::vector<TargetSpec> specs;
  if (!out.targets) co_return specs;
  // Sized from the last snapshot: grown by doubling, 20,000 specs took room
  // for 32,768 (6 MiB resident for the whole sweep instead of 3.7).
  specs.reserve(last_snapshot_size + last_snapshot_size / 16);
  std::optional<std::size_t> at = 0;
  while ((at = out.targets(*at, specs))) {
    co_await yield_turn();
    if (stopped) break;
  }
  last_snapshot_size = specs.size();
  co_return specs;
}

net::awaitable<void> ProactiveLayer::Impl::yield_turn() {
  // Queued behind whatever is ready now (events, heartbeats, hooks): the
  // sweep resumes after them.
  co_await net::post(executor, net::use_awaitable);
}

std::vector<std::string> ProactiveLayer::Impl::discovery_labels() const {
  return {label, label_paused, label_http};
}

net::awaitable<void> ProactiveLayer::Impl::discover(std::vector<ContainerSummary> listed) {
  if (label.empty()) {  // no discovery by label
    release_in_stretches(executor, std::move(listed), yield_every);
    co_return;
  }
  std::vector<TargetSpec> specs;
  const auto seq = ++discoveries_begun;
  std::size_t done = 0;
  for (const auto& c : listed) {
    if (yield_due(done)) co_await yield_turn();
    auto it = c.labels.find(label);
    if (it == c.labels.end() || it->second.empty()) continue;
    TargetSpec spec;
    spec.id = it->second;
    spec.container = c.name.empty() ? c.id : c.name;
    if (auto p = c.labels.find(label_paused); p != c.labels.end()) spec.paused = p->second == "true";
    if (auto h = c.labels.find(label_http); h != c.labels.end()) spec.http = h->second;
    specs.push_back(std::move(spec));
  }
  if (!stopped) {
    last_discovery = steady::now();
    if (const auto digest = discovery_digest(specs); digest != discovered_digest) {
      // The list goes first, a stretch a turn, and the specs are moved, not
      // copied: the fleet's new records, the sources' specs and the store's
      // events then take the memory the list's summaries held. Handed over
      // beside them, a first list of 11,200 containers added ~8 MiB to the
      // start-up's peak (issue 15; bench/bench_target_memory.cpp).
      co_await drain_in_stretches(listed, yield_every);
      std::vector<ContainerSummary>().swap(listed);  // its array too (~2 MiB at 11,200)
      // Another discovery may have been handed over while this list
      // drained: the one begun last wins, and a set equal to the one handed
      // last is not handed again.
      if (!stopped && seq > discovery_handed && digest != discovered_digest) {
        discovery_handed = seq;
        discovery_changed = true;
        discovered_digest = digest;
        if (out.discovered) out.discovered(std::move(specs));
        specs = std::vector<TargetSpec>();  // moved from: empty, said so
      }
    }
  }
  release_in_stretches(executor, std::move(specs), yield_every);
  release_in_stretches(executor, std::move(listed), yield_every);
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
    ListQuery query{label};
    query.labels = discovery_labels();
    auto listed = co_await engine->list(std::move(query));
    if (stopped) co_return;
    if (!listed.ok()) {
      set_engine_health(false, listed.error);
      continue;
    }
    set_engine_health(true, "");
    liveness.tick(Subsystem::engine);
    co_await discover(std::move(listed.value));
  }
}

net::awaitable<bool> ProactiveLayer::Impl::list_containers(
    const std::vector<TargetSpec>& targets, steady::time_point deadline) {
  auto listed = co_await engine->list_with_health(label, deadline, discovery_labels());
  if (!listed.ok()) {
    set_engine_health(false, listed.error);
    co_return false;
  }
  // Targets that name their container themselves (static ones): their
  // container's events are theirs too, by name or by id. Views into
  // `targets`, the caller's snapshot, which outlives this call; one sorted
  // array rather than a map of nodes made again every sweep.
  std::vector<std::pair<std::string_view, std::string_view>> named;  // container -> target id
  std::size_t done = 0;
  for (const auto& t : targets) {
    if (!t.container.empty()) named.emplace_back(t.container, t.id);
    if (yield_due(done)) co_await yield_turn();
  }
  std::sort(named.begin(), named.end());
  const auto named_target = [&](std::string_view container) -> std::string_view {
    const auto it = std::lower_bound(named.begin(), named.end(), std::pair{container, std::string_view()});
    return it != named.end() && it->first == container ? it->second : std::string_view();
  };
  // A labelled container is the target its label names (what discover()
  // makes of it); any other, the static target naming it.
  auto note = [&](const ContainerSummary& c) {
    std::string_view target;
    if (!label.empty())
      if (auto l = c.labels.find(label); l != c.labels.end()) target = l->second;
    if (target.empty()) target = named_target(c.name);
    if (target.empty()) target = named_target(c.id);
    containers.note(c.name, c.id, c.state == "running", container_finding(c.state, c.health, c.status), target);
  };

  // Updated in place, one container at a time: across the yields the event
  // stream reads each container's last entry or this list's.
  containers.begin_list();
  for (const auto& c : listed.value) {
    note(c);
    if (yield_due(done)) co_await yield_turn();
  }
  co_await discover(std::move(listed.value));
  if (stopped) co_return false;

  // Static targets naming containers without the label: one unfiltered list
  // for all of them (still one call for the fleet, not one per target).
  const bool unlisted =
      std::any_of(named.begin(), named.end(), [&](const auto& n) { return !containers.in_list(n.first); });
  if (unlisted) {
    ListQuery everything;
    everything.deadline = deadline;
    everything.labels.emplace();  // read for their state only
    auto all = co_await engine->list(std::move(everything));
    if (!all.ok()) {
      set_engine_health(false, all.error);
      co_return false;
    }
    for (const auto& c : all.value) {
      note(c);
      if (yield_due(done)) co_await yield_turn();
    }
    release_in_stretches(executor, std::move(all.value), yield_every);
    if (stopped) co_return false;
  }
  containers.end_list();
  set_engine_health(true, "");
  liveness.tick(Subsystem::engine);
  co_return true;
}

net::awaitable<std::vector<std::vector<Finding>>> ProactiveLayer::Impl::run_probes(
    const std::vector<TargetSpec>& targets) {
  // Every target's HTTP/TCP checks together (probe_findings, the same fold the
  // hook and the admin sweep use); HttpChecker bounds how many are really in
  // flight. Each result lands in its target's slot; the sweep waits for the
  // last one.
  std::vector<std::vector<Finding>> results(targets.size());
  auto pending = std::make_shared<std::size_t>(0);
  net::steady_timer all_done(executor, steady::time_point::max());
  // Each finished check is the poll loop moving: with more URLs hanging than
  // HTTP slots a sweep takes several timeouts, and is not stuck for that.
  auto check_done = [&](const std::shared_ptr<std::size_t>& left) {
    liveness.loop_tick(Subsystem::proactive);
    if (--*left == 0) all_done.cancel();
  };
  // Launched yield_every at a time, and more than one stretch of them spread
  // over a quarter of the interval, at most the sweep's timeout (as
  // Prometheus spreads its scrapes): 10,000 probes spawned in one piece put
  // 10,000 first steps ahead of every hook check and heartbeat, and even
  // launched in stretches they made the sweep one burst of CPU in which
  // every other layer's slowest verdicts fell (issue 15,
  // bench/fleet_phases.py). Each target is still
  // probed once an interval, at the same place in the sweep. A count
  // reaching 0 between launches only cancels a timer nobody waits on yet;
  // the wait below begins after the last launch, so the last probe ends it.
  //
  // A stretch is at most probe_batch launches: each launch runs the probe's
  // first steps inline (co_spawn dispatches on the loop's own thread: the
  // URL, the pool, the connect), about 40 us, so the 256 a stretch once held
  // held the loop ~10 ms: 139 of the 169 handlers of 5 ms or more in a fleet
  // profile (issue 15, bench/long_turns.py --handlers).
  const auto probing = static_cast<std::size_t>(
      std::count_if(targets.begin(), targets.end(), [](const TargetSpec& t) { return t.probed(); }));
  const std::size_t batch = yield_every == 0 ? 0 : std::min(yield_every, probe_batch);
  const auto spread = yield_every > 0 && probing > yield_every
                          ? std::chrono::duration_cast<steady::duration>(
                                std::min(proactive.interval / 4, proactive.timeout))
                          : steady::duration::zero();
  // The last stretch starts a whole spread after the first (spread > 0 means
  // probing > yield_every >= batch: two stretches at least).
  const auto last_stretch = static_cast<long long>(batch == 0 ? 1 : (probing + batch - 1) / batch) - 1;
  const auto launch0 = steady::now();
  net::steady_timer pace(executor);
  std::size_t launched = 0;
  for (std::size_t i = 0; i < targets.size() && !stopped; ++i) {
    if (!targets[i].probed()) continue;
    if (batch > 0 && launched > 0 && launched % batch == 0) {
      if (spread == steady::duration::zero()) {
        co_await yield_turn();
      } else {
        const auto stretch = static_cast<long long>(launched / batch);
        pace.expires_at(launch0 + spread * stretch / std::max(last_stretch, 1LL));
        boost::system::error_code ec;
        co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      if (stopped) break;
    }
    ++launched;
    ++*pending;
    net::co_spawn(executor, [&, i]() -> net::awaitable<void> {
      results[i] = co_await probe_findings(executor, targets[i], &http, proactive.timeout);
    }, clients::net::log_failure("proactive: probe", [&, pending] { check_done(pending); }));
  }
  if (*pending > 0) {
    boost::system::error_code ec;
    co_await all_done.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  co_return results;
}

net::awaitable<bool> ProactiveLayer::Impl::sweep() {
  // A snapshot, not a view of the Fleet: the sweep yields, and targets come
  // and go meanwhile. Taken once per sweep, again only when discovery has
  // just changed the set (its new targets' containers count now).
  std::vector<TargetSpec> probed = co_await snapshot_targets();
  if (stopped) co_return true;
  const auto t0 = steady::now();  // the engine is asked now: the evidence is this old
  // The sweep's deadline is `timeout`: the engine's list and every HTTP/TCP
  // check run at once, each bounded by it.
  const auto deadline = t0 + proactive.timeout;
  bool engine_ok = true;
  std::vector<std::vector<Finding>> probes;
  discovery_changed = false;
  if (engine)
    std::tie(engine_ok, probes) = co_await (list_containers(probed, deadline) && run_probes(probed));
  else
    probes = co_await run_probes(probed);

  // Targets the list has just discovered were not probed: their container's
  // state counts now, their HTTP/TCP checks from the next sweep on. Only
  // targets with a check get a slot.
  std::unordered_map<std::string_view, std::size_t> probe_slot;
  for (std::size_t i = 0; i < probed.size(); ++i)
    if (!probes[i].empty()) probe_slot.emplace(probed[i].id, i);
  std::vector<TargetSpec> rediscovered;
  if (discovery_changed) rediscovered = co_await snapshot_targets();
  const auto& targets = discovery_changed ? rediscovered : probed;
  // Across each yield below: a target removed meanwhile gets no evidence
  // (Fleet::submit drops evidence for a target that left); an event for a
  // target after t0 still wins, as last_event_at is read per target after
  // the yield; stop() ends the sweep at the next target.
  std::size_t done = 0;
  for (const auto& t : targets) {
    if (yield_due(done)) {
      co_await yield_turn();
      if (stopped) co_return engine_ok;
    }
    std::vector<Finding> findings;
    if (!t.container.empty() && engine) {
      if (!engine_ok) {
        findings.push_back({Verdict::unknown, false, "engine unreachable"});
      } else if (const auto* c = containers.find(t.container)) {
        findings.push_back(c->finding);
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
  if (engine_ok) co_await arm_watches(targets);
  if (stopped) co_return engine_ok;
  // 20,000 specs and their findings: not freed in one turn as the sweep ends.
  release_in_stretches(executor, std::move(probe_slot), yield_every);
  release_in_stretches(executor, std::move(probes), yield_every);
  release_in_stretches(executor, std::move(rediscovered), yield_every);
  release_in_stretches(executor, std::move(probed), yield_every);
  const double secs = std::chrono::duration<double>(steady::now() - t0).count();
  metrics.sweep_run("proactive", engine_ok, secs);
  if (engine_ok) liveness.tick(Subsystem::proactive);
  co_return engine_ok;
}

ProactiveLayer::ProactiveLayer(net::any_io_executor ex, const config::Config& config,
                               EngineClient* engine, HttpChecker& http, ProactiveOutputs outputs,
                               metrics::Metrics& metrics, metrics::LivenessRegistry& liveness)
    : impl_(std::make_shared<Impl>(ex, config, engine, http, std::move(outputs), metrics, liveness)) {}

ProactiveLayer::~ProactiveLayer() { stop(); }

void ProactiveLayer::start() {
  auto& d = *impl_;
  // Fresh while sweeps succeed: allow a whole interval (plus its timeout and
  // jitter) between ticks before calling it stale. The poll loop itself
  // turns on the same schedule, whether the engine answers or not.
  d.liveness.enable(Subsystem::proactive, d.sweep_budget());
  if (d.engine) d.liveness.enable(Subsystem::engine, d.sweep_budget());
  d.liveness.watch_loop(Subsystem::proactive, d.sweep_budget());
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
  impl_->arming.stop();
  impl_->wait_timer.cancel();
  impl_->retry_timer.cancel();
  impl_->discovery_timer.cancel();
  if (impl_->engine) impl_->engine->stop_events();
}

void ProactiveLayer::configure(const config::Config& config) {
  impl_->proactive = config.proactive;
  impl_->targets_refresh = config.targets.targets_refresh;
  // A reloaded interval moves the poll loop's schedule; a loop not started
  // yet is not watched yet.
  if (impl_->liveness.enabled(Subsystem::proactive))
    impl_->liveness.watch_loop(Subsystem::proactive, impl_->sweep_budget());
}

void ProactiveLayer::poll_now() {
  impl_->poll_requested = true;
  impl_->wait_timer.cancel();
}

std::uint64_t ProactiveLayer::sweeps_done() const { return impl_->sweeps; }

void ProactiveLayer::yield_every(std::size_t targets) { impl_->yield_every = targets; }

void ProactiveLayer::arm_workers(std::size_t inspects) { impl_->arming.set_limit(inspects); }

std::size_t ProactiveLayer::watched_processes() const { return impl_->exits ? impl_->exits->size() : 0; }

}  // namespace healthsweep::sweeps::proactive
