#include "sweeps/proactive/target_check.hpp"

#include <algorithm>

#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "clients/net/tcp_checker.hpp"

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;

namespace net = boost::asio;

Finding container_finding(const std::string& state, const std::string& health,
                          const std::string& status) {
  const std::string shown = status.empty() ? state : status;
  if (state == "running") {
    if (health == "unhealthy") return {Verdict::dead, false, "container unhealthy"};
    if (health == "starting") return {Verdict::unknown, false, "container health starting"};
    return {Verdict::alive, true, health.empty() ? "container running" : "container running, " + health};
  }
  if (state == "exited" || state == "dead" || state == "removing" || state == "stopped")
    return {Verdict::dead, true, "container " + shown};
  return {Verdict::dead, false, "container " + shown + " (not running)"};
}

Finding container_finding(const ContainerInfo& info) {
  if (info.running && !info.restarting) return container_finding("running", info.health, "");
  std::string status = info.status;
  if (!info.running && (status == "exited" || status == "dead")) {
    status += " (code " + std::to_string(info.exit_code) + (info.oom_killed ? ", OOM-killed)" : ")");
  }
  return container_finding(info.restarting ? "restarting" : info.status, info.health, status);
}

Finding probe_finding(std::string_view kind, const ProbeOutcome& outcome) {
  std::string reason = std::string(kind) + ": " + outcome.detail;
  if (outcome.alive) return {Verdict::alive, false, std::move(reason)};
  return {Verdict::dead, false, std::move(reason)};
}

Finding fold(const std::vector<Finding>& findings) {
  Finding out;
  bool any_alive = false, any_dead = false, conclusive_dead = false;
  for (const auto& f : findings) {
    if (!out.reason.empty()) out.reason += "; ";
    out.reason += f.reason;
    any_alive = any_alive || f.verdict == Verdict::alive;
    any_dead = any_dead || f.verdict == Verdict::dead;
    conclusive_dead = conclusive_dead || (f.verdict == Verdict::dead && f.conclusive);
  }
  if (any_dead) {
    out.verdict = Verdict::dead;
    out.conclusive = conclusive_dead;
  } else if (any_alive && std::all_of(findings.begin(), findings.end(),
                                      [](const Finding& f) { return f.verdict == Verdict::alive; })) {
    out.verdict = Verdict::alive;
    out.conclusive = true;
  }
  return out;
}

net::awaitable<Evidence> check_target(net::any_io_executor ex, const TargetSpec& spec,
                                      EngineClient* engine, HttpChecker* http,
                                      std::chrono::milliseconds timeout, Layer layer) {
  std::vector<Finding> findings;
  if (!spec.container.empty() && engine) {
    auto info = co_await engine->inspect(spec.container);
    if (info.ok())
      findings.push_back(container_finding(info.value));
    else if (info.not_found())
      findings.push_back({Verdict::dead, true, "container " + spec.container + " not found"});
    else  // the engine is unreachable or failing: that says nothing about the target
      findings.push_back({Verdict::unknown, false, info.error});
  }
  if (!spec.http.empty() && http)
    findings.push_back(probe_finding("http", co_await http->check(spec.http, timeout)));
  if (spec.tcp) findings.push_back(probe_finding("tcp", co_await tcp_check(ex, *spec.tcp, timeout)));
  if (findings.empty()) findings.push_back({Verdict::unknown, false, "nothing to check (no container, http or tcp)"});
  Finding f = fold(findings);
  co_return Evidence{spec.id, layer, f.verdict, std::move(f.reason), f.conclusive,
                     std::chrono::steady_clock::now()};
}

}  // namespace healthsweep::sweeps::proactive
