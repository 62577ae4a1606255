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

struct HookAnswer {
  int status = 202;        // 202 accepted, 404 unknown target, 429 queue full, 503 layer off
  bool coalesced = false;  // a check for the target was pending or ran within the window
  int retry_after_seconds = 1;  // with 429
};

struct Routes {
  std::function<std::string()> metrics;                        // text exposition
  std::function<std::pair<bool, std::string>()> liveness;      // (all fresh, JSON)
  std::function<std::string()> targets;                        // JSON array
  std::function<std::optional<std::string>(std::string_view)> target;  // JSON object or none
  std::function<HookAnswer(HookReport&&)> hook;
  std::function<bool(std::string_view id)> sweep;              // false: unknown target
  std::function<bool(std::string_view id)> reset;              // false: unknown target
  std::function<void(int status)> hook_answered;               // metrics: every answer on the hook path
  std::function<void(std::string_view target)> auth_failed;    // a 401: metrics, rate-limited log
  std::function<const std::optional<std::string>&()> token;    // bearer token, if configured
};

Response route(const Routes& routes, Request&& req);

// True for the hook's path ("/hooks/connection-error", percent-decoded, with
// or without a trailing slash or query), as route() matches it: for counting
// the answers the listener sends itself on that path.
bool is_hook_path(std::string_view target);

}  // namespace healthsweep::daemon
