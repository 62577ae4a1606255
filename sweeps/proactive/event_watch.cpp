// The proactive layer's event watch: the engine's /events stream turned into
// evidence (die/oom dead, start/restart a startup grace then alive,
// health_status), with discovery and a full poll asked for when the stream
// says the list changed or was lost.
#include "sweeps/proactive/proactive_layer_impl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include "clients/net/log_failure.hpp"
#include "sweeps/proactive/event_time.hpp"

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::clients::engine;

std::string ProactiveLayer::Impl::target_of(const EngineEvent& ev, const std::string* listed) const {
  if (!label.empty())
    if (auto it = ev.attributes.find(label); it != ev.attributes.end() && !it->second.empty())
      return it->second;
  return listed ? *listed : std::string();
}

void ProactiveLayer::Impl::on_event(const EngineEvent& ev) {
  last_event_time = ev.time;
  // One lookup in the container table per event, of every container's events.
  const std::string* listed = containers.target_of(ev.name, ev.id);
  const std::string id = target_of(ev, listed);
  if (id.empty()) return;
  // A labelled container we have not listed yet (created after the last
  // sweep), or one removed (Docker says destroy, Podman remove): discovery
  // runs now rather than at the next sweep.
  const bool known = listed != nullptr;
  if ((!known && (ev.action == "create" || ev.action == "start")) || ev.action == "destroy" || ev.action == "remove") {
    poll_requested = true;
    wait_timer.cancel();
  }
  // When the engine saw it, on our steady clock: detection latency counts
  // from the engine's event, not from when we read it (bounded against wall
  // clock steps, see event_time.hpp).
  const auto now = steady::now();
  const auto observed = event_observed_at(now, std::chrono::system_clock::now(), ev.time, events_floor);
  events_floor = observed;
  if (ev.action == "die" || ev.action == "oom" || ev.action == "start" || ev.action == "restart" ||
      ev.action == "health_status")
    last_event_at[id] = now;
  if (ev.action == "die" || ev.action == "oom") {
    counters.event_deaths.Increment();
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
    // From "now", nothing older can come; a replay starts after the last
    // event seen, whose time events_floor already holds.
    if (!last_event_time) events_floor = steady::now();
    bool connected = false;
    // The gauge says when events reach us: tests wait for it instead of
    // guessing how long a subscription takes, operators alert on it.
    auto r = co_await engine->follow_events(q, [this](const EngineEvent& ev) { on_event(ev); },
                                            [&] { connected = true; counters.event_stream_up.Set(1); });
    counters.event_stream_up.Set(0);
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

}  // namespace healthsweep::sweeps::proactive
