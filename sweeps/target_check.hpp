// What one look at a target says: the container's state from the engine
// (list entry or inspect) folded with its HTTP and TCP checks into one
// verdict, so each check of a target is one piece of evidence.
//
// Container: running and healthy (or without a health check) = alive;
// health `starting` = no verdict; `unhealthy` = dead, inconclusive (counts
// toward failure_threshold); exited/dead/removing = dead, conclusive;
// created/restarting/paused/stopping = dead, inconclusive (a start still
// in progress; never restarted again inside its startup grace); container
// not found = dead, conclusive. An unreachable engine gives no verdict.
// HTTP/TCP: a failure is dead, inconclusive; success alive.
// Fold: any dead wins (conclusive if any conclusive dead); alive only when
// every look said alive; otherwise no verdict. Reasons are joined so the
// target object tells the whole story.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sweeps/engine_types.hpp"
#include "sweeps/evidence.hpp"
#include "sweeps/probe_outcome.hpp"
#include "sweeps/target.hpp"

namespace healthsweep::sweeps {

class EngineClient;
class HttpChecker;

struct Finding {
  Verdict verdict = Verdict::unknown;
  bool conclusive = false;
  std::string reason;
};

Finding container_finding(const std::string& state, const std::string& health, const std::string& status);
Finding container_finding(const ContainerInfo& info);
Finding probe_finding(std::string_view kind /* "http" | "tcp" */, const ProbeOutcome& outcome);
Finding fold(const std::vector<Finding>& findings);

// Inspects the container (if any) and runs the HTTP/TCP checks (if any) of
// one target now; `engine` may be null. Used by the reactive hook and by
// POST /admin/targets/{id}/sweep.
boost::asio::awaitable<Evidence> check_target(boost::asio::any_io_executor ex, const TargetSpec& spec,
                                              EngineClient* engine, HttpChecker* http,
                                              std::chrono::milliseconds timeout, Layer layer);

}  // namespace healthsweep::sweeps
