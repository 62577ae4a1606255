// The process watch is armed for a fleet's containers several inspects at a
// time (issue 15: 1,000 new containers armed within seconds, not one engine
// round trip after another), on both engines: every running container's
// main process ends up watched, and the engine saw more than one inspect on
// its way at once — never more than the engine client's pool allows.
#include <gtest/gtest.h>

#include "tests/integration/target_json.hpp"
#include "tests/support/engine.hpp"
#include "tests/support/recording_proxy.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {
class ProcessArming : public ::testing::TestWithParam<EngineKind> {};
}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, ProcessArming, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(ProcessArming, AFleetsWatchesAreArmedSeveralInspectsAtATime) {
  HS_REQUIRE_ENGINE(p, GetParam());
  constexpr int n = 16;
  for (int i = 0; i < n; ++i) {
    const auto suffix = std::to_string(i);  // appended: g++ 12 warns (-Wrestrict) on "a" + string
    p.run(p.name(std::string("a").append(suffix)), std::string("ws-a").append(suffix));
  }
  TempDir dir;
  // Each answer held 100 ms: inspects sent at once are seen in flight
  // together even when the engine answers one before the next arrives (CI
  // saw max_in_flight 1 on Docker without it, 1 run in 3 under load).
  RecordingProxy proxy(dir.file("engine.sock"), p.socket(), /*forward_events=*/true, 100ms);
  std::string config = "engine:\n  socket: \"";
  config.append(proxy.path()).append("\"\ntargets:\n  engine_label: \"").append(p.label()).append("\"\n");
  config.append("sweeps:\n  proactive: { interval: 1h, timeout: 25s }\nliveness: { stale_after: 2h }\n");
  config.append("remediation:\n  restart: { via: none }\n  fail_safe: { min_targets: 1000 }\n");
  Daemon d(config);
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_watched_processes") == n; }, 60s))
      << d.log().substr(0, 4000);
  // By id or by name, depending on what the list gave: at least one each.
  const int by_any = proxy.count("/json") - proxy.count("/containers/json");
  EXPECT_GE(by_any, n) << "one inspect per container to learn its main process";
  EXPECT_GE(proxy.max_in_flight(), 2) << "inspects one after another";
  EXPECT_LE(proxy.max_in_flight(), 8) << "the engine client's pool holds 8 connections";
}
