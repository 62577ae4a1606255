#include "sweeps/proactive/target_check.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "clients/net/tcp_checker.hpp"

namespace healthsweep::sweeps::proactive {

using namespace healthsweep::sweeps::decide;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;

namespace net = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

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

namespace {

// Each look below is awaited only for a target that has it (the callers
// decide), so each gives a finding.
net::awaitable<Finding> http_finding(const std::string& url, HttpChecker* http, std::chrono::milliseconds timeout) {
  co_return probe_finding("http", co_await http->check(url, timeout));
}

net::awaitable<Finding> tcp_finding(net::any_io_executor ex, config::Endpoint at, std::chrono::milliseconds timeout) {
  co_return probe_finding("tcp", co_await tcp_check(ex, at, timeout));
}

net::awaitable<Finding> inspect_finding(const std::string& container, EngineClient* engine) {
  auto info = co_await engine->inspect(container);
  if (info.ok()) co_return container_finding(info.value);
  if (info.not_found()) co_return Finding{Verdict::dead, true, "container " + container + " not found"};
  // The engine is unreachable or failing: that says nothing about the target.
  co_return Finding{Verdict::unknown, false, info.error};
}

bool by_http(const TargetSpec& spec, const HttpChecker* http) { return !spec.http.empty() && http; }

// The findings of one look, folded into the target's evidence.
Evidence evidence_of(const std::string& id, Layer layer, const std::vector<Finding>& findings) {
  Finding f = findings.empty() ? Finding{Verdict::unknown, false, "nothing to check (no container, http or tcp)"}
                               : fold(findings);
  return Evidence{id, layer, f.verdict, std::move(f.reason), f.conclusive, std::chrono::steady_clock::now()};
}

}  // namespace

// `a && b` runs its two sides as a parallel group: each side spawned as a
// coroutine of its own, with a cancellation signal, and the group's state
// allocated; at 4,000 reactive checks a second in the fleet run that
// machinery was 10 % of the loop's samples. Most targets have one kind of
// check only, so a lone side is awaited as it is; `&&` only when two run.
net::awaitable<std::vector<Finding>> probe_findings(net::any_io_executor ex, const TargetSpec& spec,
                                                    HttpChecker* http, std::chrono::milliseconds timeout) {
  std::vector<Finding> out;
  if (by_http(spec, http) && spec.tcp) {
    auto [h, t] = co_await (http_finding(spec.http, http, timeout) && tcp_finding(ex, *spec.tcp, timeout));
    out.push_back(std::move(h));
    out.push_back(std::move(t));
  } else if (by_http(spec, http)) {
    auto h = co_await http_finding(spec.http, http, timeout);
    out.push_back(std::move(h));
  } else if (spec.tcp) {
    auto t = co_await tcp_finding(ex, *spec.tcp, timeout);
    out.push_back(std::move(t));
  }
  co_return out;
}

net::awaitable<Evidence> check_target(net::any_io_executor ex, const TargetSpec& spec, EngineClient* engine,
                                      HttpChecker* http, std::chrono::milliseconds timeout, Layer layer) {
  const bool by_engine = !spec.container.empty() && engine;
  const bool by_probe = by_http(spec, http) || spec.tcp;
  std::vector<Finding> findings;
  if (by_engine && by_probe) {  // both at once: the check takes the longer of the two, not their sum
    auto [container, probes] =
        co_await (inspect_finding(spec.container, engine) && probe_findings(ex, spec, http, timeout));
    findings = std::move(probes);
    findings.insert(findings.begin(), std::move(container));
  } else if (by_engine) {
    auto container = co_await inspect_finding(spec.container, engine);
    findings.push_back(std::move(container));
  } else if (by_probe) {
    findings = co_await probe_findings(ex, spec, http, timeout);
  }
  co_return evidence_of(spec.id, layer, findings);
}

}  // namespace healthsweep::sweeps::proactive
