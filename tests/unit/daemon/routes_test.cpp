#include <gtest/gtest.h>

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
    r.hook = [this](HookReport&& h) { hooks.push_back(h.target); return next_hook; };
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
  return route(r, std::move(req));
}

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
  EXPECT_EQ(d.answered, (std::vector<int>{405, 202}));
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
