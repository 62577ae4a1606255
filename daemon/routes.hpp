// Maps a request to a response: the pure part of the HTTP API (SPEC section 4).
// What the routes need from the rest of the daemon comes in as callbacks, so
// the routing, status codes and auth rules are tested without a socket.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/hook_body.hpp"
#include "daemon/http_types.hpp"

namespace healthsweep::daemon {

// What became of a request to check a target now (the hook, the admin
// sweep); route() chooses the HTTP status for each.
enum class CheckAnswer {
  accepted,        // 202, a check started or queued
  coalesced,       // 202 with coalesced=true: one was pending or ran within the window
  unknown_target,  // 404
  queue_full,      // 429 with Retry-After
  layer_off,       // 503: reactive layer disabled (hook only)
};

struct Routes {
  std::function<std::string()> metrics;                        // text exposition
  std::function<std::pair<bool, std::string>()> liveness;      // (all fresh, JSON)
  std::function<std::string()> targets;                        // JSON array
  std::function<std::optional<std::string>(std::string_view)> target;  // JSON object or none
  std::function<CheckAnswer(HookReport&&)> hook;
  std::function<CheckAnswer(std::string_view id)> sweep;
  std::function<bool(std::string_view id)> reset;              // false: unknown target
  std::function<void(int status)> hook_answered;               // metrics
  std::function<const std::optional<std::string>&()> token;    // bearer token, if configured
};

Response route(const Routes& routes, Request&& req);

}  // namespace healthsweep::daemon
