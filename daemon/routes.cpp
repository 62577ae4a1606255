#include "daemon/routes.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <variant>
#include <vector>

#include "cluster/hook_routing.hpp"
#include "daemon/auth.hpp"

namespace healthsweep::daemon {

namespace http = boost::beast::http;
namespace net = boost::asio;

// On answers that come from or name the target's owner.
constexpr std::string_view cluster_owner_header = "X-Healthsweep-Owner";

namespace {

Response make(http::status status, std::string body, std::string_view content_type,
              unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, content_type);
  res.set(http::field::server, "healthsweepd");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json(http::status status, std::string body, unsigned version) {
  return make(status, std::move(body), "application/json", version);
}

Response error(http::status status, std::string_view message, unsigned version) {
  boost::json::object o;
  o["error"] = message;
  return json(status, boost::json::serialize(o), version);
}

Response method_not_allowed(std::string_view allow, unsigned version) {
  auto res = error(http::status::method_not_allowed, "method not allowed", version);
  res.set(http::field::allow, allow);
  return res;
}

// Decoded path segments ("/admin/targets/ws%2D1" -> {"admin","targets","ws-1"});
// nullopt when the target is not a valid origin-form.
std::optional<std::vector<std::string>> segments_of(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  std::vector<std::string> out;
  for (auto seg : url->segments()) out.push_back(seg);
  if (!out.empty() && out.back().empty()) out.pop_back();  // trailing slash
  return out;
}

// The largest page one request may ask for: a page is built and serialized on
// the event loop, so its size bounds how long one request holds it.
constexpr std::size_t max_page = 10000;

// ?state=S&limit=N&after=ID; an error message for a bad value. Unknown keys
// are ignored (a newer client against an older daemon).
std::variant<TargetQuery, std::string> target_query(std::string_view target) {
  TargetQuery q;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::string("malformed request target");
  for (auto param : url->params()) {
    if (param.key == "state") {
      q.state = sweeps::decide::state_named(param.value);
      if (!q.state) return "unknown state \"" + param.value + "\"";
    } else if (param.key == "limit") {
      const auto& v = param.value;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), q.limit);
      if (ec != std::errc{} || end != v.data() + v.size() || q.limit == 0 || q.limit > max_page)
        return "limit must be a number from 1 to " + std::to_string(max_page);
    } else if (param.key == "after") {
      q.after = param.value;
    } else if (param.key == "scope") {
      if (param.value == "fleet") q.fleet = true;
      else if (param.value != "local") return "unknown scope \"" + param.value + "\" (local or fleet)";
    }
  }
  return q;
}

// RFC 8288: the next page's URL, so a client pages without building URLs.
std::string next_link(const TargetQuery& q, const std::string& next) {
  boost::urls::url url("/admin/targets");
  if (q.fleet) url.params().append({"scope", "fleet"});
  if (q.state) url.params().append({"state", sweeps::decide::to_string(*q.state)});
  if (q.limit) url.params().append({"limit", std::to_string(q.limit)});
  url.params().append({"after", next});
  // Appended, not `"<" + ... + ">"`: g++ 12 warns (-Wrestrict) on that chain.
  std::string link = "<";
  link.append(url.buffer()).append(R"(>; rel="next")");
  return link;
}

Response page_answer(TargetPage&& page, const TargetQuery& q, unsigned version) {
  auto res = json(http::status::ok, std::move(page.json), version);
  if (page.next) res.set(http::field::link, next_link(q, *page.next));
  return res;
}

// Parameters by value: the frame outlives the request it came from.
net::awaitable<Response> fleet_answer(net::awaitable<FleetPage> pending, TargetQuery q, unsigned version) {
  auto got = co_await std::move(pending);
  if (!got.page) co_return error(http::status::service_unavailable, "fleet list: " + got.error, version);
  co_return page_answer(std::move(*got.page), q, version);
}

// Parameters by value: the frame outlives the request it came from.
net::awaitable<Response> whole_answer(net::awaitable<TargetPage> pending, TargetQuery q, unsigned version) {
  auto page = co_await std::move(pending);
  co_return page_answer(std::move(page), q, version);
}

Reply admin_targets(const Routes& r, const Request& req) {
  auto query = target_query(req.target());
  if (auto* bad = std::get_if<std::string>(&query))
    return error(http::status::bad_request, *bad, req.version());
  auto& q = std::get<TargetQuery>(query);
  if (q.fleet) {
    if (!r.fleet_targets)
      return error(http::status::bad_request,
                   "scope=fleet needs the cluster section, which this daemon does not have", req.version());
    auto pending = r.fleet_targets(q);
    return fleet_answer(std::move(pending), std::move(q), req.version());
  }
  if (r.local_targets) {
    auto pending = r.local_targets(q);
    return whole_answer(std::move(pending), std::move(q), req.version());
  }
  return page_answer(r.targets(q), q, req.version());
}

bool hook_segments(const std::vector<std::string>& s) {
  return s.size() == 2 && s[0] == "hooks" && s[1] == "connection-error";
}

// POST endpoints: 401 without or with a wrong token, 403 when none is configured.
std::optional<Response> refuse_unauthorized(const Routes& r, const Request& req) {
  const auto auth = check_bearer(r.token(), req[http::field::authorization]);
  if (auth == AuthResult::ok) return std::nullopt;
  if (auth == AuthResult::not_configured)
    return error(http::status::forbidden, "no auth token configured (auth.token_file)",
                 req.version());
  if (r.auth_failed) r.auth_failed(req.target());
  auto res = error(http::status::unauthorized, "missing or wrong bearer token", req.version());
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

// The statuses of SPEC section 4 for the hook and the admin sweep.
Response check_answer(CheckAnswer answer, unsigned version) {
  switch (answer) {
    case CheckAnswer::accepted: return json(http::status::accepted, R"({"accepted":true,"coalesced":false})", version);
    case CheckAnswer::coalesced: return json(http::status::accepted, R"({"accepted":true,"coalesced":true})", version);
    case CheckAnswer::unknown_target: return error(http::status::not_found, "unknown target", version);
    case CheckAnswer::queue_full: {
      auto res = error(http::status::too_many_requests, "too many checks queued", version);
      res.set(http::field::retry_after, "1");
      return res;
    }
    case CheckAnswer::layer_off: break;
  }
  return error(http::status::service_unavailable, "reactive layer disabled", version);
}

// The owner named in an answer: {"owner":"host-b","advertise":"http://…"}.
boost::json::object owner_body(std::string_view message, const OwnerRef& owner) {
  boost::json::object o;
  o["error"] = message;
  o["owner"] = owner.instance_id;
  o["advertise"] = owner.advertise;
  return o;
}

Response unavailable(boost::json::object body, int retry_after_seconds, unsigned version) {
  auto res = json(http::status::service_unavailable, boost::json::serialize(body), version);
  res.set(http::field::retry_after, std::to_string(retry_after_seconds));
  return res;
}

// The owner's answer, relayed as it came (status and body); when none came
// or it was a 5xx, 503 naming the owner: the report was not checked here,
// and a retry after the takeover time reaches whoever owns it then.
net::awaitable<Response> relay(ForwardingHook forward, unsigned version) {
  const auto peer = co_await std::move(forward.reply);
  if (peer.status == 0 || peer.status >= 500) {
    auto body = owner_body("the target's owner did not take the report: " + peer.detail, forward.owner);
    co_return unavailable(std::move(body), forward.retry_after_seconds, version);
  }
  auto res = json(static_cast<http::status>(peer.status), peer.body, version);
  res.set(cluster_owner_header, forward.owner.instance_id);
  co_return res;
}

Reply hook_answer(HookAnswer&& answer, unsigned version) {
  if (auto* local = std::get_if<CheckAnswer>(&answer)) return check_answer(*local, version);
  if (auto* forward = std::get_if<ForwardingHook>(&answer)) return relay(std::move(*forward), version);
  if (auto* misdirected = std::get_if<MisdirectedHook>(&answer)) {
    auto body = owner_body("forwarded to an instance that does not own the target", misdirected->owner);
    auto res = json(http::status::misdirected_request, boost::json::serialize(body), version);
    res.set(cluster_owner_header, misdirected->owner.instance_id);
    return res;
  }
  boost::json::object body;
  body["error"] = "no live instance owns the target now";
  body["owner"] = nullptr;
  return unavailable(std::move(body), std::get<UnownedHook>(answer).retry_after_seconds, version);
}

Reply hook(const Routes& r, Request&& req) {
  if (auto refused = refuse_unauthorized(r, req)) return std::move(*refused);
  auto parsed = parse_hook_body(req.body());
  if (auto* bad = std::get_if<HookBodyError>(&parsed))
    return error(http::status::bad_request, bad->message, req.version());
  const auto version = req.version();
  return hook_answer(r.hook(std::move(std::get<HookReport>(parsed)), HookRequest(std::move(req))), version);
}

// Counts the hook's answer once it is known (after the owner answered, for a forwarded report).
net::awaitable<Response> counted(net::awaitable<Response> pending, std::function<void(int)> count) {
  auto res = co_await std::move(pending);
  if (count) count(static_cast<int>(res.result_int()));
  co_return res;
}

constexpr std::string_view hook_path = "/hooks/connection-error";

// Every answer on the hook path is counted, the 405 included.
Reply hook_route(const Routes& r, Request&& req) {
  Reply reply = req.method() != http::verb::post ? Reply(method_not_allowed("POST", req.version()))
                                                 : hook(r, std::move(req));
  if (auto* later = std::get_if<net::awaitable<Response>>(&reply)) return counted(std::move(*later), r.hook_answered);
  auto& res = std::get<Response>(reply);
  if (r.hook_answered) r.hook_answered(static_cast<int>(res.result_int()));
  return reply;
}

Response admin_target(const Routes& r, Request&& req, const std::vector<std::string>& seg) {
  const std::string& id = seg[2];
  const bool post = req.method() == http::verb::post;
  if (seg.size() == 3) {
    if (req.method() != http::verb::get) return method_not_allowed("GET", req.version());
    if (auto body = r.target(id)) return json(http::status::ok, std::move(*body), req.version());
    return error(http::status::not_found, "unknown target", req.version());
  }
  if (seg.size() == 4 && (seg[3] == "sweep" || seg[3] == "reset")) {
    if (!post) return method_not_allowed("POST", req.version());
    if (auto refused = refuse_unauthorized(r, req)) return std::move(*refused);
    if (seg[3] == "sweep") {
      return check_answer(r.sweep(id), req.version());
    }
    if (!r.reset(id)) return error(http::status::not_found, "unknown target", req.version());
    return json(http::status::ok, R"({"reset":true})", req.version());
  }
  return error(http::status::not_found, "no such endpoint", req.version());
}

Reply dispatch(const Routes& r, Request&& req) {
  // The probe every load balancer and kubelet hammers: answered before any
  // URL parsing.
  if (req.target() == "/healthz" && req.method() == http::verb::get)
    return make(http::status::ok, "ok", "text/plain", req.version());
  // The path every reporting service posts to, 10,000 times a second at
  // fleet size: matched before the URL is parsed into segments.
  if (std::string_view(req.target()) == hook_path) return hook_route(r, std::move(req));
  const auto seg = segments_of(req.target());
  if (!seg) return error(http::status::bad_request, "malformed request target", req.version());
  const auto& s = *seg;
  const auto method = req.method();
  const bool get = method == http::verb::get || method == http::verb::head;

  if (s.size() == 1 && s[0] == "healthz") {
    if (!get) return method_not_allowed("GET", req.version());
    return make(http::status::ok, "ok", "text/plain", req.version());
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return method_not_allowed("GET", req.version());
    return make(http::status::ok, r.metrics(), "text/plain; version=0.0.4; charset=utf-8",
                req.version());
  }
  if (s.size() == 2 && s[0] == "admin" && s[1] == "liveness") {
    if (!get) return method_not_allowed("GET", req.version());
    auto [fresh, body] = r.liveness();
    return json(fresh ? http::status::ok : http::status::service_unavailable, std::move(body),
                req.version());
  }
  if (s.size() == 2 && s[0] == "admin" && s[1] == "targets") {
    if (!get) return method_not_allowed("GET", req.version());
    return admin_targets(r, req);
  }
  if (s.size() >= 3 && s[0] == "admin" && s[1] == "targets") return admin_target(r, std::move(req), s);
  if (s.size() == 2 && s[0] == "admin" && s[1] == "cluster") {
    if (!get) return method_not_allowed("GET", req.version());
    auto body = r.cluster ? r.cluster() : std::nullopt;
    if (!body) return error(http::status::not_found, "no cluster section: this daemon runs alone", req.version());
    return json(http::status::ok, std::move(*body), req.version());
  }
  if (hook_segments(s)) return hook_route(r, std::move(req));
  return error(http::status::not_found, "no such endpoint", req.version());
}

}  // namespace

std::string_view HookRequest::authorization() const { return request_[http::field::authorization]; }
std::string_view HookRequest::forwarded_by() const { return request_[cluster::forwarded_by_header]; }

bool is_hook_path(std::string_view target) {
  const auto seg = segments_of(target);
  return seg && hook_segments(*seg);
}

namespace {

void strip_body(Response& res) {  // HEAD: same headers as GET, no body
  const auto length = res.body().size();
  res.body().clear();
  res.content_length(length);
}

net::awaitable<Response> stripped(net::awaitable<Response> pending) {
  auto res = co_await std::move(pending);
  strip_body(res);
  co_return res;
}

}  // namespace

Reply route(const Routes& r, Request&& req) {
  const bool head = req.method() == http::verb::head;
  auto reply = dispatch(r, std::move(req));
  if (!head) return reply;
  if (auto* later = std::get_if<net::awaitable<Response>>(&reply)) return stripped(std::move(*later));
  strip_body(std::get<Response>(reply));
  return reply;
}

}  // namespace healthsweep::daemon
