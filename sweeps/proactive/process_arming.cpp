// The proactive layer's process watch arming: each running container's main
// process is inspected once and watched through a pidfd (ProcessExitWatch);
// its exit is a dead verdict sooner than the engine's die event.
#include "sweeps/proactive/proactive_layer_impl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include "clients/net/log_failure.hpp"

namespace healthsweep::sweeps::proactive {

namespace {
// Inspects in flight at once while arming: half of the engine client's 8
// pooled connections, so a fleet's first sweep arms 1,000 watches in a few
// seconds (one at a time took one engine round trip each, 1,000 in a row)
// and the sweep, the hook's checks and restarts still find a connection.
constexpr std::size_t arm_workers = 4;
}  // namespace

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::clients::engine;

net::awaitable<void> ProactiveLayer::Impl::arm_watches(const std::vector<TargetSpec>& targets) {
  if (!exits) co_return;
  // The list has no PIDs: each running container not watched yet is
  // inspected once, arm_workers at a time. Later sweeps only inspect
  // containers that changed.
  // `targets` is the sweep's own snapshot and running_ids changes only at
  // the next sweep's list, so both hold across the yields; a start event
  // arming a watch meanwhile is seen by watching().
  std::unordered_set<std::string> present;
  std::size_t done = 0;
  for (const auto& t : targets) {
    if (yield_due(done)) {
      co_await yield_turn();
      if (stopped) co_return;
    }
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
  counters.watched_processes.Set(static_cast<double>(exits->size()));
  std::erase_if(unwatchable, [&](const std::string& c) { return !running_ids.count(c); });
  while (arming < arm_workers && arming < to_arm.size()) {
    ++arming;
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
  --arming;
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
