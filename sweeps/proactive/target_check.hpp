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

#include "clients/engine/types.hpp"
#include "clients/net/probe_outcome.hpp"
#include "sweeps/decide/evidence.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::clients::engine { class EngineClient; }
namespace healthsweep::clients::http { class HttpChecker; }

namespace healthsweep::sweeps::proactive {


struct Finding {
  decide::Verdict verdict = decide::Verdict::unknown;
  bool conclusive = false;
  std::string reason;
};

Finding container_finding(const std::string& state, const std::string& health, const std::string& status);
Finding container_finding(const clients::engine::ContainerInfo& info);
Finding probe_finding(std::string_view kind /* "http" | "tcp" */, const clients::net::ProbeOutcome& outcome);
Finding fold(const std::vector<Finding>& findings);

// The HTTP and TCP checks of one target (those it has), run at once, as
// findings in that order. The proactive sweep runs this for every target of
// the sweep; check_target() runs it beside the engine's inspect.
boost::asio::awaitable<std::vector<Finding>> probe_findings(boost::asio::any_io_executor ex,
                                                            const decide::TargetSpec& spec,
                                                            clients::http::HttpChecker* http,
                                                            std::chrono::milliseconds timeout);

// One look at one target now: the container's inspect (if any; `engine` may
// be null) and its HTTP/TCP checks, all at once, folded into one piece of
// evidence. The reactive hook and POST /admin/targets/{id}/sweep use it; a
// check takes `timeout` once, not once per look.
boost::asio::awaitable<decide::Evidence> check_target(boost::asio::any_io_executor ex, const decide::TargetSpec& spec,
                                                      clients::engine::EngineClient* engine,
                                                      clients::http::HttpChecker* http,
                                                      std::chrono::milliseconds timeout, decide::Layer layer);

}  // namespace healthsweep::sweeps::proactive
