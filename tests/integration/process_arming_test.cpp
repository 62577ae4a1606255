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

// Issue 15's arming at scale, on Podman: 100 containers made at once (eight
// `podman run`s at a time), then a daemon that finds them all new. Every
// main process ends up watched, through the ArmingQueue's few inspects in
// flight, without ever taking more than the engine client's pool.
TEST(ProcessArmingAtScale, AHundredContainersMadeAtOnceAreAllArmed) {
  HS_REQUIRE_ENGINE(p, EngineKind::podman);
  constexpr int n = 100;
  std::string made;
  const int rc = run_shell("seq 1 " + std::to_string(n) + " | timeout -k 5 100 xargs -P 8 -I{} " + p.command() +
                               " run -d " + p.create_flags() + " --name " + p.name("m") + "{} --label " + p.label() +
                               "=m{} " + p.image() + " sleep 100000 >/dev/null",
                           &made);
  ASSERT_EQ(rc, 0) << made;
  TempDir dir;
  RecordingProxy proxy(dir.file("engine.sock"), p.socket());
  std::string config = "engine:\n  socket: \"";
  config.append(proxy.path()).append("\"\ntargets:\n  engine_label: \"").append(p.label()).append("\"\n");
  config.append("sweeps:\n  proactive: { interval: 1h, timeout: 25s }\nliveness: { stale_after: 2h }\n");
  config.append("remediation:\n  restart: { via: none }\n  fail_safe: { min_targets: 1000 }\n");
  const auto started = std::chrono::steady_clock::now();
  Daemon d(config);
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_proactive_watched_processes") == n; }, 30s))
      << "watched " << metric(d, "healthsweep_proactive_watched_processes") << " of " << n << "\n"
      << d.log().substr(0, 4000);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  EXPECT_GE(proxy.count("/json") - proxy.count("/containers/json"), n) << "one inspect per container";
  EXPECT_GE(proxy.max_in_flight(), 2) << "inspects one after another";
  EXPECT_LE(proxy.max_in_flight(), 8) << "the engine client's pool holds 8 connections";
  RecordProperty("armed_ms", std::to_string(took.count()));
}
