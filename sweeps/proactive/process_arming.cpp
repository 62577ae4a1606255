// The proactive layer's process watch arming: each running container's main
// process is inspected once and watched through a pidfd (ProcessExitWatch);
// its exit is a dead verdict sooner than the engine's die event.
#include "sweeps/proactive/proactive_layer_impl.hpp"
#include "sweeps/proactive/release_in_stretches.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::clients::engine;

net::awaitable<void> ProactiveLayer::Impl::arm_watches(const std::vector<TargetSpec>& targets) {
  if (!exits) co_return;
  // The list has no PIDs: each running container not watched yet is
  // inspected once, arm_workers at a time (ArmingQueue). Later sweeps only
  // inspect containers that changed.
  // `targets` is the sweep's own snapshot and the container table changes
  // only at the next sweep's list, so both hold across the yields; a start
  // event arming a watch meanwhile is seen by watching().
  std::unordered_set<std::string> present;
  std::size_t done = 0;
  for (const auto& t : targets) {
    if (yield_due(done)) {
      co_await yield_turn();
      if (stopped) co_return;
    }
    if (t.container.empty()) continue;
    present.insert(t.id);
    const auto* c = containers.find(t.container);
    if (!c || !c->running) {
      exits->forget(t.id);
      continue;
    }
    if (exits->watching(t.id, c->id) || unwatchable.count(c->id)) continue;
    // Queued once: a container still waiting for a worker at the next sweep
    // is not queued again.
    if (arm_pending.insert(t.id).second) arming.push(ArmRequest{t.id, c->id});
  }
  exits->retain([&](const std::string& id) { return present.count(id) > 0; });
  counters.watched_processes.Set(static_cast<double>(exits->size()));
  std::erase_if(unwatchable, [&](const std::string& id) {
    const auto* c = containers.find(id);
    return !c || !c->running;
  });
  release_in_stretches(executor, std::move(present), yield_every);  // a target id each
}

bool ProactiveLayer::Impl::arm_settled(const ArmRequest& r) {
  arm_pending.erase(r.id);
  return stopped || !exits || exits->watching(r.id, r.container);  // a start event armed it meanwhile
}

net::awaitable<void> ProactiveLayer::Impl::arm_one(ArmRequest r) {
  auto self = shared_from_this();
  auto info = co_await engine->inspect(r.container);
  if (stopped) co_return;
  if (info.ok()) watch_process(r.id, info.value);
}

void ProactiveLayer::Impl::watch_process(const std::string& id, const ContainerInfo& info) {
  if (!exits || !info.running || info.pid <= 0) return;
  const auto r = exits->watch(id, info.id, info.pid);
  counters.watched_processes.Set(static_cast<double>(exits->size()));
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
  counters.process_exits.Increment();
  counters.watched_processes.Set(static_cast<double>(exits->size()));
  out.evidence(Evidence{exit.key, Layer::proactive, Verdict::dead,
                        "container process exited (pid " + std::to_string(exit.pid) + ")", true, exit.when});
}

}  // namespace healthsweep::sweeps::proactive
