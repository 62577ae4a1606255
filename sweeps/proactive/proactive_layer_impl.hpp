// Internal to the proactive layer (proactive_layer.cpp, event_watch.cpp,
// process_arming.cpp): the state they share.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "clients/engine/client.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/proactive/arming_queue.hpp"
#include "sweeps/proactive/container_table.hpp"
#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/proactive/process_exit_watch.hpp"
#include "sweeps/proactive/target_check.hpp"

namespace healthsweep::sweeps::proactive {

namespace net = boost::asio;
using steady = std::chrono::steady_clock;

struct ProactiveLayer::Impl : std::enable_shared_from_this<ProactiveLayer::Impl> {
  Impl(net::any_io_executor ex, const config::Config& cfg, clients::engine::EngineClient* e,
       clients::http::HttpChecker& h, ProactiveOutputs o, metrics::Metrics& m,
       metrics::LivenessRegistry& l);

  net::any_io_executor executor;
  config::Proactive proactive;
  std::chrono::milliseconds stale_after;
  std::string label;
  clients::engine::EngineClient* engine;
  clients::http::HttpChecker& http;
  ProactiveOutputs out;
  metrics::Metrics& metrics;
  metrics::LivenessRegistry& liveness;
  net::steady_timer wait_timer;   // between sweeps
  net::steady_timer retry_timer;  // event stream reconnect backoff
  net::steady_timer discovery_timer;
  std::chrono::milliseconds targets_refresh;
  steady::time_point last_discovery{};
  metrics::ProactiveMetrics counters;
  // Container main processes watched through pidfds (null: off or no pidfds).
  std::unique_ptr<ProcessExitWatch> exits;
  bool watch_wanted = false;
  // Containers to inspect, then watch: arm_workers inspects at a time, half
  // of the engine client's 8 pooled connections, so the sweep, the hook's
  // checks and restarts still find one.
  static constexpr std::size_t arm_workers = 4;
  ArmingQueue arming;
  std::unordered_set<std::string> arm_pending;  // target ids queued in `arming`
  // What the last list said of each container (name, id, target, state).
  ContainerTable containers;
  // Containers whose process cannot be watched (another PID namespace, ...):
  // not inspected again at every sweep; forgotten once they leave the list.
  std::unordered_set<std::string> unwatchable;
  std::mt19937 rng{std::random_device{}()};
  std::optional<bool> engine_was_healthy;
  std::optional<std::chrono::system_clock::time_point> last_event_time;
  // The earliest an event of the current stream can have happened, on our
  // steady clock (event_observed_at).
  steady::time_point events_floor{};
  bool stopped = false;
  bool poll_requested = false;
  int failures = 0;  // consecutive sweeps that could not ask the engine
  // When the event stream last said something about a target: a sweep whose
  // list was asked for before that is older news and says nothing of it.
  std::unordered_map<std::string, steady::time_point> last_event_at;
  std::uint64_t sweeps = 0;
  // The sweep's per-target work (folding the list, discovery, the evidence,
  // the process watch) lets other handlers run every `yield_every` targets,
  // so a 10,000-container sweep is many short turns, not one ~100 ms one
  // (issue 15). 0: never (the benchmark's baseline).
  std::size_t yield_every = 256;
  // HTTP/TCP probes launched in one turn at most (run_probes): each launch
  // runs its probe's first steps inline.
  static constexpr std::size_t probe_batch = 16;
  // discovery_digest of the set last handed to out.discovered: an unchanged
  // set is not handed again (the Fleet would re-merge every target).
  std::optional<std::uint64_t> discovered_digest;
  // discover()s begun, and the number of the one whose set was handed last:
  // an older list that finishes later is not handed over after a newer one.
  std::uint64_t discoveries_begun = 0, discovery_handed = 0;
  // Set by discover() (the sweep's or the discovery loop's) when the set
  // changed; cleared by the sweep as it starts.
  bool discovery_changed = false;

  // True every yield_every-th call: the caller then co_awaits yield_turn().
  bool yield_due(std::size_t& done) const { return yield_every > 0 && ++done % yield_every == 0; }
  net::awaitable<void> yield_turn();
  // Every checkable target, taken from out.targets in stretches with a turn
  // of the loop between them.
  net::awaitable<std::vector<decide::TargetSpec>> snapshot_targets();
  std::size_t last_snapshot_size = 0;

  // proactive_layer.cpp: the poll loop, the sweep, discovery
  void set_engine_health(bool healthy, const std::string& why);
  std::chrono::milliseconds next_interval();
  net::awaitable<void> poll_loop();
  net::awaitable<bool> sweep();  // false: the engine could not be asked
  // Brings `containers` up to the engine's list; `targets`: the sweep's
  // snapshot (static targets naming their container).
  net::awaitable<bool> list_containers(const std::vector<decide::TargetSpec>& targets,
                                       steady::time_point deadline);
  // The targets the list's labels name, handed to out.discovered when they
  // are not the set handed last; frees the list and the specs.
  net::awaitable<void> discover(std::vector<clients::engine::ContainerSummary> listed);
  // The labels discover() reads: the only ones the lists keep.
  std::vector<std::string> discovery_labels() const;
  net::awaitable<void> discovery_loop();
  net::awaitable<std::vector<std::vector<Finding>>> run_probes(const std::vector<decide::TargetSpec>& targets);
  std::chrono::milliseconds sweep_budget() const;
  // event_watch.cpp: the engine's event stream
  net::awaitable<void> events_loop();
  void on_event(const clients::engine::EngineEvent& ev);
  net::awaitable<void> confirm_started(std::string id, std::string container);
  // process_arming.cpp: pidfd watches of the containers' main processes
  net::awaitable<void> arm_watches(const std::vector<decide::TargetSpec>& targets);
  net::awaitable<void> arm_one(ArmRequest r);
  bool arm_settled(const ArmRequest& r);  // taken off the queue: skip it?
  void watch_process(const std::string& id, const clients::engine::ContainerInfo& info);
  void on_process_exit(const ProcessExit& exit);
  // The label's value, else `listed`: the target the container table holds for
  // the event's container (nullptr: none).
  std::string target_of(const clients::engine::EngineEvent& ev, const std::string* listed) const;  // event_watch.cpp
};

}  // namespace healthsweep::sweeps::proactive
