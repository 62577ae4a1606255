// Issue 6 against a real daemon and a real engine, each test on both Podman
// and Docker: the hook's 4xx answers, a killed container reported through the
// hook, coalescing counted on the engine side, and a report about a healthy
// target.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/target_json.hpp"
#include "tests/support/engine.hpp"
#include "tests/support/recording_proxy.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

const std::string token = "hook-test-token";

// The daemon talks to the engine through a recording proxy; the event stream
// is cut and the process watch off, so that only the hook can notice a death
// (the poll runs hourly).
struct HookSetup {
  TempDir dir;
  std::unique_ptr<RecordingProxy> proxy;
  std::unique_ptr<Daemon> daemon;
  HookSetup(Engine& p, const std::string& container) {
    proxy = std::make_unique<RecordingProxy>(dir.file("engine.sock"), p.socket(), false);
    const auto token_file = dir.write("token", token + "\n");
    daemon = std::make_unique<Daemon>(
        "auth: { token_file: \"" + token_file + "\" }\n"
        "engine: { socket: \"" + proxy->path() + "\", watch_processes: false }\n"
        "targets:\n  engine_label: \"\"\n  static:\n    - { id: ws-r, container: " + container + " }\n"
        "sweeps:\n  proactive: { interval: 1h, timeout: 10s }\n  reactive: { coalesce_window: 10s }\n"
        "liveness: { stale_after: 2h }\n"
        "remediation:\n  fail_safe: { min_targets: 100 }\n");
  }
  Daemon& d() { return *daemon; }
  HttpResponse report(const std::string& body, const std::string& bearer = token) {
    return d().post("/hooks/connection-error", body, bearer);
  }
};

const std::string ws_r = R"({"target":"ws-r","error":"connect ECONNREFUSED","source":"a2a-proxy"})";

class ReactiveHook : public ::testing::TestWithParam<EngineKind> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, ReactiveHook, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(ReactiveHook, AnswersEachBadRequestWithItsCode) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("r"), "ws-r");
  HookSetup s(p, p.name("r"));
  EXPECT_EQ(s.report(ws_r, "").status, 401);
  EXPECT_EQ(s.report(ws_r, "wrong").status, 401);
  EXPECT_EQ(s.report("{not json").status, 400);
  EXPECT_EQ(s.report(R"({"target":7})").status, 400);
  EXPECT_EQ(s.report("{\"target\":\"ws-\xff\"}").status, 400);
  EXPECT_EQ(s.report(R"({"target":"nobody"})").status, 404);
  EXPECT_EQ(s.report(std::string(70 * 1024, ' ')).status, 413);
  EXPECT_GE(metric(s.d(), "healthsweep_hook_requests_total{code=\"401\"}"), 2);
  EXPECT_GE(metric(s.d(), "healthsweep_hook_requests_total{code=\"404\"}"), 1);
}

TEST_P(ReactiveHook, KilledContainerReportedThroughTheHookIsOfflineAndRestartedLongBeforeThePoll) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("r"), "ws-r");
  HookSetup s(p, p.name("r"));
  ASSERT_TRUE(eventually([&] { return state_of(s.d(), "ws-r") == "online"; }, 30s))
      << target(s.d(), "ws-r")->body << "\n" << s.d().log() << "\nengine requests for containers: " << s.proxy->count("/containers");
  p.kill(p.name("r"));
  EXPECT_TRUE(holds_for(500ms, [&] { return state_of(s.d(), "ws-r") == "online"; }))
      << "nothing but the hook can see it";
  auto r = s.report(ws_r);
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"accepted":true,"coalesced":false})");
  // The poll is an hour away: only the hook's check can have done this.
  ASSERT_TRUE(eventually([&] { auto t = target(s.d(), "ws-r"); return t && t->restarts >= 1; }, 15s))
      << s.d().log();
  // restarts counts the order; the engine's start may still be on its way
  EXPECT_TRUE(eventually([&] { return p.status(p.name("r")) == "running"; }, 10s));
  EXPECT_EQ(metric(s.d(), "healthsweep_detections_total{layer=\"reactive\"}"), 1);
  // After the restart a forced sweep finds it alive again.
  ASSERT_EQ(s.d().post("/admin/targets/ws-r/sweep", "", token).status, 202);
  EXPECT_TRUE(eventually([&] { return state_of(s.d(), "ws-r") == "online"; }, 10s)) << s.d().log();
}

TEST_P(ReactiveHook, AThousandConcurrentReportsForOneTargetCauseOneEngineInspect) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("r"), "ws-r");
  HookSetup s(p, p.name("r"));
  ASSERT_TRUE(eventually([&] { return state_of(s.d(), "ws-r") == "online"; }, 30s))
      << target(s.d(), "ws-r")->body << "\n" << s.d().log() << "\nengine requests for containers: " << s.proxy->count("/containers");
  const std::string inspect = "/containers/" + p.name("r") + "/json";
  const int before = s.proxy->count(inspect);
  std::atomic<int> accepted{0}, coalesced{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto r = s.report(ws_r);
        if (r.status == 202) ++accepted;
        if (r.body.find("\"coalesced\":true") != std::string::npos) ++coalesced;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1000);
  EXPECT_EQ(coalesced.load(), 999);
  // The one check ends as a false alarm (the target is alive); after it no
  // report is left that could ask the engine again.
  ASSERT_TRUE(eventually([&] { return metric(s.d(), "healthsweep_reactive_false_alarms_total") == 1; }, 15s))
      << s.d().log();
  EXPECT_EQ(s.proxy->count(inspect) - before, 1);
}

TEST_P(ReactiveHook, AReportAboutAHealthyTargetChangesNothingAndIsAFalseAlarm) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("r"), "ws-r");
  HookSetup s(p, p.name("r"));
  ASSERT_TRUE(eventually([&] { return state_of(s.d(), "ws-r") == "online"; }, 30s))
      << target(s.d(), "ws-r")->body << "\n" << s.d().log() << "\nengine requests for containers: " << s.proxy->count("/containers");
  const auto since = target(s.d(), "ws-r")->body;
  ASSERT_EQ(s.report(ws_r).status, 202);
  ASSERT_TRUE(eventually([&] {
    return metric(s.d(), "healthsweep_reactive_false_alarms_total") == 1; }, 10s)) << s.d().log();
  auto t = target(s.d(), "ws-r");
  EXPECT_EQ(t->state, "online");
  EXPECT_NE(t->body.find("false alarm: connect ECONNREFUSED (from a2a-proxy)"), std::string::npos) << t->body;
  EXPECT_EQ(metric(s.d(), "healthsweep_transitions_total{from=\"online\",to=\"offline\"}"), 0);
}
