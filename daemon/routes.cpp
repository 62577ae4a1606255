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

#include "daemon/auth.hpp"

namespace healthsweep::daemon {

namespace http = boost::beast::http;

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
    } else if (param.key == "scope" && param.value != "local") {
      return std::string("scope=fleet needs the cluster section, which this daemon does not have");
    }
  }
  return q;
}

// RFC 8288: the next page's URL, so a client pages without building URLs.
std::string next_link(const TargetQuery& q, const std::string& next) {
  boost::urls::url url("/admin/targets");
  if (q.state) url.params().append({"state", sweeps::decide::to_string(*q.state)});
  if (q.limit) url.params().append({"limit", std::to_string(q.limit)});
  url.params().append({"after", next});
  // Appended, not `"<" + ... + ">"`: g++ 12 warns (-Wrestrict) on that chain.
  std::string link = "<";
  link.append(url.buffer()).append(R"(>; rel="next")");
  return link;
}

Response admin_targets(const Routes& r, const Request& req) {
  auto query = target_query(req.target());
  if (auto* bad = std::get_if<std::string>(&query))
    return error(http::status::bad_request, *bad, req.version());
  const auto& q = std::get<TargetQuery>(query);
  auto page = r.targets(q);
  auto res = json(http::status::ok, std::move(page.json), req.version());
  if (page.next) res.set(http::field::link, next_link(q, *page.next));
  return res;
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

Response hook(const Routes& r, Request&& req) {
  if (auto refused = refuse_unauthorized(r, req)) return std::move(*refused);
  auto parsed = parse_hook_body(req.body());
  if (auto* bad = std::get_if<HookBodyError>(&parsed))
    return error(http::status::bad_request, bad->message, req.version());
  return check_answer(r.hook(std::move(std::get<HookReport>(parsed))), req.version());
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

Response dispatch(const Routes& r, Request&& req) {
  // The probe every load balancer and kubelet hammers: answered before any
  // URL parsing.
  if (req.target() == "/healthz" && req.method() == http::verb::get)
    return make(http::status::ok, "ok", "text/plain", req.version());
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
  if (hook_segments(s)) {
    // Every answer on the hook path is counted, the 405 included.
    auto res = method != http::verb::post ? method_not_allowed("POST", req.version())
                                          : hook(r, std::move(req));
    if (r.hook_answered) r.hook_answered(static_cast<int>(res.result_int()));
    return res;
  }
  return error(http::status::not_found, "no such endpoint", req.version());
}

}  // namespace

bool is_hook_path(std::string_view target) {
  const auto seg = segments_of(target);
  return seg && hook_segments(*seg);
}

Response route(const Routes& r, Request&& req) {
  const bool head = req.method() == http::verb::head;
  auto res = dispatch(r, std::move(req));
  if (head) {  // same headers as GET, no body
    const auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  return res;
}

}  // namespace healthsweep::daemon
