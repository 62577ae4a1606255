// The proactive layer: asks the container engine and the targets' own
// health endpoints whether each target is alive. It only observes:
//
// - Events: follows the engine's /events stream; a container's die/oom is a
//   conclusive dead verdict within milliseconds (observed at the engine's
//   event time), start/restart opens a startup grace, health_status turns
//   into alive/dead evidence. Lost stream: reconnect with backoff, replaying
//   from the last event seen, then one immediate full poll.
// - Poll: every `interval` (with jitter), one label-filtered container list
//   for the whole fleet (discovery + state), plus the HTTP/TCP checks, folded
//   into one piece of evidence per target per sweep. The list and the checks
//   run at once, each within `timeout`: that is the sweep's deadline. A sweep
//   still running when the next is due is not doubled: it is counted as an
//   overrun.
// - An unreachable engine gives no dead verdicts: `engine` goes stale and
//   the source is reported unhealthy (the fail-safe).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sweeps/decide/evidence.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::clients::engine { class EngineClient; }
namespace healthsweep::clients::http { class HttpChecker; }

namespace healthsweep::metrics { class Metrics; class LivenessRegistry; }

namespace healthsweep::sweeps::proactive {


struct ProactiveOutputs {
  decide::EvidenceSink evidence;
  // Targets discovered by engine label (replaces the engine source's list).
  std::function<void(std::vector<decide::TargetSpec>)> discovered;
  // The engine (re)started a target's container: a startup grace begins.
  std::function<void(const std::string& id, const std::string& reason)> started;
  std::function<void(bool healthy)> engine_healthy;
  // Every target to check now (static ones with containers, HTTP or TCP),
  // in stretches: appends the stretch that starts at cursor `from` (0 first)
  // to `out` and returns where the next one starts, nullopt after the last.
  // The sweep yields the loop between stretches, so taking the snapshot of
  // 20,000 checkable targets among 100,000 never holds it in one piece.
  std::function<std::optional<std::size_t>(std::size_t from, std::vector<decide::TargetSpec>& out)> targets;
};

class ProactiveLayer {
 public:
  // `engine` may be null (no engine section: HTTP/TCP checks only).
  ProactiveLayer(boost::asio::any_io_executor ex, const config::Config& config, clients::engine::EngineClient* engine,
                 clients::http::HttpChecker& http, ProactiveOutputs outputs, metrics::Metrics& metrics,
                 metrics::LivenessRegistry& liveness);
  ~ProactiveLayer();
  ProactiveLayer(const ProactiveLayer&) = delete;
  ProactiveLayer& operator=(const ProactiveLayer&) = delete;

  void start();
  void stop();
  void configure(const config::Config& config);  // interval, timeout, jitter, label
  void poll_now();  // an extra sweep as soon as possible (coalesced with one pending)
  std::uint64_t sweeps_done() const;
  // Other handlers run every `targets` targets of a sweep (default 256);
  // 0: the sweep holds the loop throughout. For benchmarks and tests.
  void yield_every(std::size_t targets);
  // Inspects in flight at once while arming the process watch (default 4,
  // at least 1). For benchmarks (1: the behaviour before issue 15).
  void arm_workers(std::size_t inspects);
  std::size_t watched_processes() const;  // containers whose main process is watched

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::sweeps::proactive
