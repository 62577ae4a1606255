#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include "daemon/routes.hpp"

using namespace healthsweep::daemon;
namespace http = boost::beast::http;

namespace {

struct FakeDaemon {
  std::optional<std::string> token = "tok";
  bool fresh = true;
  std::vector<std::string> hooks, sweeps, resets;
  std::vector<int> answered;
  std::vector<TargetQuery> queries;
  std::optional<std::string> next_page;
  CheckAnswer next_hook = CheckAnswer::accepted;
  // When set, the hook's answer instead of next_hook (several instances).
  std::function<HookAnswer()> next_hook_elsewhere;
  std::vector<HookRequest> as_sent;
  CheckAnswer next_sweep_known = CheckAnswer::accepted;
  Routes routes() {
    Routes r;
    r.metrics = [] { return std::string("healthsweep_build_info{version=\"x\"} 1\n"); };
    r.liveness = [this] { return std::pair{fresh, std::string(R"({"status":"ok"})")}; };
    r.targets = [this](const TargetQuery& q) {
      queries.push_back(q);
      return TargetPage{R"([{"id":"ws-1"}])", next_page};
    };
    r.target = [](std::string_view id) -> std::optional<std::string> {
      if (id == "ws-1" || id == "a b") return "{\"id\":\"" + std::string(id) + "\"}";
      return std::nullopt;
    };
    r.hook = [this](HookReport&& h, HookRequest&& req) -> HookAnswer {
      hooks.push_back(h.target);
      as_sent.push_back(std::move(req));
      if (next_hook_elsewhere) return next_hook_elsewhere();
      return next_hook;
    };
    r.sweep = [this](std::string_view id) {
      sweeps.emplace_back(id);
      return id == "ws-1" ? next_sweep_known : CheckAnswer::unknown_target;
    };
    r.reset = [this](std::string_view id) { resets.emplace_back(id); return id == "ws-1"; };
    r.hook_answered = [this](int c) { answered.push_back(c); };
    r.token = [this]() -> const std::optional<std::string>& { return token; };
    return r;
  }
};

Response call(Routes& r, http::verb verb, std::string target, std::string body = {},
              std::string bearer = {}) {
  Request req{verb, target, 11};
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  req.body() = std::move(body);
  req.prepare_payload();
  auto reply = route(r, std::move(req));
  if (auto* now = std::get_if<Response>(&reply)) return std::move(*now);
  // An answer that needs I/O: run it to completion on a loop of its own.
  boost::asio::io_context ioc;
  auto done = boost::asio::co_spawn(ioc, std::move(std::get<boost::asio::awaitable<Response>>(reply)),
                                    boost::asio::use_future);
  ioc.run();
  return done.get();
}

bool deferred(Routes& r, http::verb verb, std::string target) {
  Request req{verb, target, 11};
  auto reply = route(r, std::move(req));
  return std::holds_alternative<boost::asio::awaitable<Response>>(reply);
}

boost::asio::awaitable<PeerReply> peer_answers(PeerReply reply) { co_return reply; }

}  // namespace

TEST(Routes, HealthzAnswersOk) {
  FakeDaemon d;
  auto r = d.routes();
  auto res = call(r, http::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "ok");
}

TEST(Routes, MetricsUseTheTextFormatContentType) {
  FakeDaemon d;
  auto r = d.routes();
  auto res = call(r, http::verb::get, "/metrics");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Routes, LivenessIs503WhenStale) {
  FakeDaemon d;
  auto r = d.routes();
  EXPECT_EQ(call(r, http::verb::get, "/admin/liveness").result_int(), 200);
  d.fresh = false;
  EXPECT_EQ(call(r, http::verb::get, "/admin/liveness").result_int(), 503);
}

TEST(Routes, TargetsAndOneTargetWithPercentDecodedId) {
  FakeDaemon d;
  auto r = d.routes();
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets").result_int(), 200);
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets/ws-1").result_int(), 200);
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets/a%20b").body(), R"({"id":"a b"})");
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets/ws-9").result_int(), 404);
}

TEST(Routes, TargetQueryPassesStateLimitAndAfterAndLinksTheNextPage) {
  FakeDaemon d;
  auto r = d.routes();
  auto res = call(r, http::verb::get, "/admin/targets");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(res[http::field::link].empty());
  ASSERT_EQ(d.queries.size(), 1u);
  EXPECT_FALSE(d.queries[0].state);
  EXPECT_EQ(d.queries[0].limit, 0u);
  EXPECT_FALSE(d.queries[0].after);

  d.next_page = "ws 7";
  res = call(r, http::verb::get, "/admin/targets?state=offline&limit=2&after=ws%2D1&future=1");
  EXPECT_EQ(res.result_int(), 200);
  ASSERT_EQ(d.queries.size(), 2u);
  EXPECT_EQ(d.queries[1].state, healthsweep::sweeps::decide::State::offline);
  EXPECT_EQ(d.queries[1].limit, 2u);
  EXPECT_EQ(d.queries[1].after, "ws-1");
  EXPECT_EQ(res[http::field::link], R"(</admin/targets?state=offline&limit=2&after=ws%207>; rel="next")");
}

TEST(Routes, BadTargetQueryIs400AndNeverReachesTheFleet) {
  FakeDaemon d;
  auto r = d.routes();
  for (const char* bad : {"/admin/targets?state=dead", "/admin/targets?limit=0", "/admin/targets?limit=x",
                          "/admin/targets?limit=10001", "/admin/targets?limit=5x", "/admin/targets?scope=fleet"}) {
    auto res = call(r, http::verb::get, bad);
    EXPECT_EQ(res.result_int(), 400) << bad;
    EXPECT_NE(res.body().find("\"error\""), std::string::npos) << bad;
  }
  EXPECT_TRUE(d.queries.empty());
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets?scope=local").result_int(), 200);
}

TEST(Routes, UnknownPathIs404JsonAndWrongMethodIs405WithAllow) {
  FakeDaemon d;
  auto r = d.routes();
  auto res = call(r, http::verb::get, "/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NO_THROW(boost::json::parse(res.body()));
  auto bad = call(r, http::verb::post, "/healthz");
  EXPECT_EQ(bad.result_int(), 405);
  EXPECT_EQ(bad[http::field::allow], "GET");
  EXPECT_EQ(call(r, http::verb::get, "/hooks/connection-error").result_int(), 405);
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets/ws-1/sweep").result_int(), 405);
  EXPECT_EQ(call(r, http::verb::delete_, "/admin/targets/ws-1").result_int(), 405);
}

TEST(Routes, HookNeedsTheBearerToken) {
  FakeDaemon d;
  auto r = d.routes();
  const std::string body = R"({"target":"ws-1"})";
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", body).result_int(), 401);
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", body, "bad").result_int(), 401);
  d.token.reset();
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", body, "tok").result_int(), 403);
  EXPECT_TRUE(d.hooks.empty());
  EXPECT_EQ(d.answered, (std::vector<int>{401, 401, 403}));
}

TEST(Routes, HookAcceptsAndReportsCoalescing) {
  FakeDaemon d;
  auto r = d.routes();
  const std::string body = R"({"target":"ws-1","error":"x","source":"y"})";
  auto res = call(r, http::verb::post, "/hooks/connection-error", body, "tok");
  EXPECT_EQ(res.result_int(), 202);
  EXPECT_EQ(res.body(), R"({"accepted":true,"coalesced":false})");
  d.next_hook = CheckAnswer::coalesced;
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", body, "tok").body(),
            R"({"accepted":true,"coalesced":true})");
  EXPECT_EQ(d.hooks, (std::vector<std::string>{"ws-1", "ws-1"}));
}

TEST(Routes, HookBadBodyIs400UnknownTargetIs404QueueFullIs429) {
  FakeDaemon d;
  auto r = d.routes();
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", "{", "tok").result_int(), 400);
  EXPECT_TRUE(d.hooks.empty());
  d.next_hook = CheckAnswer::unknown_target;
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", R"({"target":"zz"})", "tok")
                .result_int(), 404);
  d.next_hook = CheckAnswer::queue_full;
  auto res = call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-1"})", "tok");
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(res[http::field::retry_after], "1");
  d.next_hook = CheckAnswer::layer_off;
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-1"})", "tok").result_int(), 503);
}

TEST(Routes, SweepAndResetNeedTokenAndKnownTarget) {
  FakeDaemon d;
  auto r = d.routes();
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-1/sweep").result_int(), 401);
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-1/sweep", "", "tok").result_int(), 202);
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-1/reset", "", "tok").result_int(), 200);
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-9/reset", "", "tok").result_int(), 404);
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-9/sweep", "", "tok").result_int(), 404);
  d.next_sweep_known = CheckAnswer::queue_full;
  EXPECT_EQ(call(r, http::verb::post, "/admin/targets/ws-1/sweep", "", "tok").result_int(), 429);
  EXPECT_EQ(d.sweeps, (std::vector<std::string>{"ws-1", "ws-9", "ws-1"}));
  EXPECT_EQ(d.resets, (std::vector<std::string>{"ws-1", "ws-9"}));
}

TEST(Routes, FailedBearerAuthIsReportedOnEveryPostEndpointButNotWithoutAToken) {
  FakeDaemon d;
  auto r = d.routes();
  std::vector<std::string> failed;
  r.auth_failed = [&](std::string_view target) { failed.emplace_back(target); };
  call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-1"})", "wrong");
  call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-1"})");
  call(r, http::verb::post, "/admin/targets/ws-1/sweep", "", "wrong");
  call(r, http::verb::post, "/admin/targets/ws-1/reset", "", "tok");  // right: not a failure
  EXPECT_EQ(failed, (std::vector<std::string>{"/hooks/connection-error", "/hooks/connection-error",
                                              "/admin/targets/ws-1/sweep"}));
  d.token.reset();  // 403, not a failed attempt
  call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-1"})", "wrong");
  EXPECT_EQ(failed.size(), 3u);
}

TEST(Routes, EveryAnswerOnTheHookPathIsCountedThe405Too) {
  FakeDaemon d;
  auto r = d.routes();
  EXPECT_EQ(call(r, http::verb::get, "/hooks/connection-error").result_int(), 405);
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error/", R"({"target":"ws-1"})", "tok").result_int(), 202);
  // The exact path is matched before any URL parsing; its other spellings
  // still reach the hook through the parsed segments.
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection%2Derror", R"({"target":"ws-1"})", "tok").result_int(), 202);
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error?from=proxy", R"({"target":"ws-1"})", "tok").result_int(),
            202);
  EXPECT_EQ(d.answered, (std::vector<int>{405, 202, 202, 202}));
  EXPECT_EQ(d.hooks.size(), 3u);
}

TEST(Routes, IsHookPathMatchesAsTheRouterDoes) {
  EXPECT_TRUE(is_hook_path("/hooks/connection-error"));
  EXPECT_TRUE(is_hook_path("/hooks/connection-error/"));
  EXPECT_TRUE(is_hook_path("/hooks/connection-error?x=1"));
  EXPECT_TRUE(is_hook_path("/hooks/connection%2Derror"));
  EXPECT_FALSE(is_hook_path("/hooks/connection-error/x"));
  EXPECT_FALSE(is_hook_path("/healthz"));
  EXPECT_FALSE(is_hook_path(""));
  EXPECT_FALSE(is_hook_path("*"));
}

// Several instances (issue 14): the hook on a non-owner.

TEST(Routes, AForwardedReportGetsTheOwnersStatusAndBodyAndIsCountedWhenItArrives) {
  FakeDaemon d;
  auto r = d.routes();
  d.next_hook_elsewhere = [] {
    return HookAnswer(ForwardingHook{{"host-b", "http://b:9470"},
                                     peer_answers({202, R"({"accepted":true,"coalesced":true})", "HTTP 202"}),
                                     4});
  };
  Request req{http::verb::post, "/hooks/connection-error", 11};
  req.set(http::field::authorization, "Bearer tok");
  req.body() = R"({"target":"ws-2","error":"x"})";
  req.prepare_payload();
  auto reply = route(r, std::move(req));
  ASSERT_TRUE(std::holds_alternative<boost::asio::awaitable<Response>>(reply)) << "forwarding never blocks the loop";
  EXPECT_TRUE(d.answered.empty()) << "counted when the owner answered, not before";
  boost::asio::io_context ioc;
  auto done = boost::asio::co_spawn(ioc, std::move(std::get<boost::asio::awaitable<Response>>(reply)),
                                    boost::asio::use_future);
  ioc.run();
  auto res = done.get();
  EXPECT_EQ(res.result_int(), 202);
  EXPECT_EQ(res.body(), R"({"accepted":true,"coalesced":true})");
  EXPECT_EQ(res["X-Healthsweep-Owner"], "host-b");
  EXPECT_EQ(d.answered, (std::vector<int>{202}));
  ASSERT_EQ(d.as_sent.size(), 1u);
  EXPECT_EQ(d.as_sent[0].body(), R"({"target":"ws-2","error":"x"})") << "the body goes on unchanged";
  EXPECT_EQ(d.as_sent[0].authorization(), "Bearer tok");
  EXPECT_EQ(d.as_sent[0].forwarded_by(), "");
}

TEST(Routes, AnOwnerThatDoesNotAnswerOrFailsIs503NamingIt) {
  FakeDaemon d;
  auto r = d.routes();
  for (const PeerReply& peer : {PeerReply{0, "", "connect: Connection refused"},
                                PeerReply{0, "", "timeout after 2000 ms"},
                                PeerReply{500, R"({"error":"boom"})", "HTTP 500"}}) {
    d.next_hook_elsewhere = [&peer] {
      return HookAnswer(ForwardingHook{{"host-b", "http://b:9470"}, peer_answers(peer), 4});
    };
    auto res = call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-2"})", "tok");
    EXPECT_EQ(res.result_int(), 503) << peer.detail;
    EXPECT_EQ(res[http::field::retry_after], "4");
    const auto body = boost::json::parse(res.body());
    EXPECT_EQ(body.at("owner").as_string(), "host-b");
    EXPECT_EQ(body.at("advertise").as_string(), "http://b:9470");
    EXPECT_NE(std::string(body.at("error").as_string()).find(peer.detail), std::string::npos) << res.body();
  }
  EXPECT_EQ(d.answered, (std::vector<int>{503, 503, 503}));
}

TEST(Routes, AForwardedReportAtANonOwnerIs421NamingTheOwnerAndANobodysTargetIs503) {
  FakeDaemon d;
  auto r = d.routes();
  d.next_hook_elsewhere = [] { return HookAnswer(MisdirectedHook{{"host-c", "http://c:9470"}}); };
  Request req{http::verb::post, "/hooks/connection-error", 11};
  req.set(http::field::authorization, "Bearer tok");
  req.set("X-Healthsweep-Forwarded-By", "host-a");
  req.body() = R"({"target":"ws-2"})";
  req.prepare_payload();
  auto reply = route(r, std::move(req));
  ASSERT_TRUE(std::holds_alternative<Response>(reply));
  const auto& res = std::get<Response>(reply);
  EXPECT_EQ(res.result_int(), 421);
  const auto named = boost::json::parse(res.body());
  EXPECT_EQ(named.at("owner").as_string(), "host-c");
  ASSERT_EQ(d.as_sent.size(), 1u);
  EXPECT_EQ(d.as_sent[0].forwarded_by(), "host-a");

  d.next_hook_elsewhere = [] { return HookAnswer(UnownedHook{13}); };
  auto unowned = call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-2"})", "tok");
  EXPECT_EQ(unowned.result_int(), 503);
  EXPECT_EQ(unowned[http::field::retry_after], "13");
  const auto nobody = boost::json::parse(unowned.body());
  EXPECT_TRUE(nobody.at("owner").is_null());
  EXPECT_EQ(d.answered, (std::vector<int>{421, 503}));
}

TEST(Routes, AWrongTokenIsRefusedBeforeAnyForwarding) {
  FakeDaemon d;
  auto r = d.routes();
  d.next_hook_elsewhere = [] { return HookAnswer(MisdirectedHook{{"host-c", "http://c:9470"}}); };
  EXPECT_EQ(call(r, http::verb::post, "/hooks/connection-error", R"({"target":"ws-2"})", "bad").result_int(), 401);
  EXPECT_TRUE(d.as_sent.empty());
}

TEST(Routes, FleetScopeIsAnsweredFromTheFleetListWithItsOwnNextLink) {
  FakeDaemon d;
  auto r = d.routes();
  std::vector<TargetQuery> asked;
  FleetPage next{TargetPage{R"([{"id":"a","owner":"host-b"}])", "a"}, {}};
  r.fleet_targets = [&](TargetQuery q) -> boost::asio::awaitable<FleetPage> {
    asked.push_back(q);
    co_return next;
  };
  EXPECT_TRUE(deferred(r, http::verb::get, "/admin/targets?scope=fleet"));
  asked.clear();
  auto res = call(r, http::verb::get, "/admin/targets?scope=fleet&state=online&limit=1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), R"([{"id":"a","owner":"host-b"}])");
  EXPECT_EQ(res[http::field::link], R"(</admin/targets?scope=fleet&state=online&limit=1&after=a>; rel="next")");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_TRUE(asked[0].fleet);
  EXPECT_EQ(asked[0].state, healthsweep::sweeps::decide::State::online);
  EXPECT_EQ(asked[0].limit, 1u);
  EXPECT_TRUE(d.queries.empty()) << "the local list is not asked";

  auto head = call(r, http::verb::head, "/admin/targets?scope=fleet");
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_TRUE(head.body().empty());

  next = FleetPage{std::nullopt, "PostgreSQL unreachable: x"};
  auto down = call(r, http::verb::get, "/admin/targets?scope=fleet");
  EXPECT_EQ(down.result_int(), 503);
  EXPECT_NE(down.body().find("PostgreSQL unreachable"), std::string::npos);
  EXPECT_EQ(call(r, http::verb::get, "/admin/targets?scope=mars").result_int(), 400);
}
