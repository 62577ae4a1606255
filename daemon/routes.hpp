// Maps a request to a response: the pure part of the HTTP API (SPEC section 4).
// What the routes need from the rest of the daemon comes in as callbacks, so
// the routing, status codes and auth rules are tested without a socket.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "daemon/hook_body.hpp"
#include "daemon/http_types.hpp"
#include "sweeps/decide/target.hpp"

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

// GET /admin/targets?state=S&limit=N&after=ID (SPEC section 4). With limit or
// after the answer is a page in id order; `next` (the id to pass as `after`)
// is set when more targets follow, and route() turns it into a Link header.
struct TargetQuery {
  std::optional<sweeps::decide::State> state;
  std::size_t limit = 0;             // 0: no limit
  std::optional<std::string> after;
  bool fleet = false;                // ?scope=fleet: every instance's targets, from PostgreSQL
};
struct TargetPage {
  std::string json;  // JSON array
  std::optional<std::string> next;
};
// ?scope=fleet: a page, or why PostgreSQL gave none (503).
struct FleetPage {
  std::optional<TargetPage> page;
  std::string error;
};

// Several instances (issue 14): what became of a hook report for a target
// this instance knows but does not own.
struct OwnerRef {
  std::string instance_id, advertise;
};
// The owner's answer to a forwarded report; status 0 when none came
// (connect error, timeout): `detail` says why.
struct PeerReply {
  int status = 0;
  std::string body;
  std::string detail;
};
struct ForwardingHook {  // sent on to the owner: the answer is the owner's (or 503 naming it)
  OwnerRef owner;
  boost::asio::awaitable<PeerReply> reply;
  int retry_after_seconds = 1;
};
struct MisdirectedHook {  // a forwarded report that reached a non-owner: 421 naming the owner
  OwnerRef owner;
};
struct UnownedHook {  // known, but no live instance owns it now: 503, retry after the takeover
  int retry_after_seconds = 1;
};
using HookAnswer = std::variant<CheckAnswer, ForwardingHook, MisdirectedHook, UnownedHook>;
// What the hook sees of the request besides the report: the request itself,
// moved, to forward it as it came (body and Authorization unchanged). Not
// copies of those parts: a report is forwarded only in a cluster, to
// another owner, and copying the Authorization header was a heap
// allocation on every report (10,000 a second in the fleet benchmark).
class HookRequest {
 public:
  explicit HookRequest(Request request) : request_(std::move(request)) {}
  std::string& body() { return request_.body(); }
  std::string_view authorization() const;
  std::string_view forwarded_by() const;  // X-Healthsweep-Forwarded-By: set when a peer forwarded it

 private:
  Request request_;
};


struct Routes {
  std::function<std::string()> metrics;                        // text exposition
  std::function<std::pair<bool, std::string>()> liveness;      // (all fresh, JSON)
  // This instance's targets, built without holding the loop (the daemon's).
  std::function<boost::asio::awaitable<TargetPage>(TargetQuery)> local_targets;
  // The same answered at once; used only when local_targets is empty (the
  // route tests, which need no event loop).
  std::function<TargetPage(const TargetQuery&)> targets;
  // ?scope=fleet; empty without the cluster section (400).
  std::function<boost::asio::awaitable<FleetPage>(TargetQuery)> fleet_targets;
  std::function<std::optional<std::string>(std::string_view)> target;  // JSON object or none
  std::function<HookAnswer(HookReport&&, HookRequest&&)> hook;
  std::function<CheckAnswer(std::string_view id)> sweep;
  std::function<bool(std::string_view id)> reset;              // false: unknown target
  std::function<std::optional<std::string>()> cluster;         // JSON; none without the cluster section
  std::function<void(int status)> hook_answered;               // metrics: every answer on the hook path
  std::function<void(std::string_view target)> auth_failed;    // a 401: metrics, rate-limited log
  std::function<const std::optional<std::string>&()> token;    // bearer token, if configured
};

Reply route(const Routes& routes, Request&& req);

// True for the hook's path ("/hooks/connection-error", percent-decoded, with
// or without a trailing slash or query), as route() matches it: for counting
// the answers the listener sends itself on that path.
bool is_hook_path(std::string_view target);

}  // namespace healthsweep::daemon
