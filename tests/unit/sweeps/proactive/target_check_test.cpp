#include <gtest/gtest.h>

#include "sweeps/proactive/target_check.hpp"

using namespace healthsweep::sweeps::proactive;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::net;
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;


TEST(TargetCheck, RunningWithoutHealthCheckIsAliveConclusive) {
  auto f = container_finding("running", "", "Up 3 seconds");
  EXPECT_EQ(f.verdict, Verdict::alive);
}

TEST(TargetCheck, UnhealthyIsInconclusiveDeadAndStartingIsNoVerdict) {
  auto u = container_finding("running", "unhealthy", "Up");
  EXPECT_EQ(u.verdict, Verdict::dead);
  EXPECT_FALSE(u.conclusive);
  EXPECT_EQ(container_finding("running", "starting", "Up").verdict, Verdict::unknown);
}

TEST(TargetCheck, ExitedIsConclusiveDeadAndCreatedIsInconclusive) {
  auto e = container_finding("exited", "", "Exited (137) 2 seconds ago");
  EXPECT_EQ(e.verdict, Verdict::dead);
  EXPECT_TRUE(e.conclusive);
  EXPECT_NE(e.reason.find("Exited (137)"), std::string::npos);
  auto c = container_finding("created", "", "Created");
  EXPECT_EQ(c.verdict, Verdict::dead);
  EXPECT_FALSE(c.conclusive);
}

TEST(TargetCheck, InspectOfAnExitedContainerNamesTheExitCode) {
  ContainerInfo info;
  info.status = "exited";
  info.exit_code = 137;
  info.oom_killed = true;
  auto f = container_finding(info);
  EXPECT_TRUE(f.conclusive);
  EXPECT_NE(f.reason.find("code 137, OOM-killed"), std::string::npos) << f.reason;
}

TEST(TargetCheck, FoldDeadWinsAliveNeedsEveryone) {
  const Finding alive{Verdict::alive, true, "container running"};
  const Finding http_dead{Verdict::dead, false, "http: HTTP 500"};
  const Finding unknown{Verdict::unknown, false, "engine unreachable"};
  auto a = fold({alive, http_dead});
  EXPECT_EQ(a.verdict, Verdict::dead);
  EXPECT_FALSE(a.conclusive);
  EXPECT_EQ(a.reason, "container running; http: HTTP 500");
  EXPECT_EQ(fold({alive, alive}).verdict, Verdict::alive);
  EXPECT_EQ(fold({alive, unknown}).verdict, Verdict::unknown);
  EXPECT_EQ(fold({unknown}).verdict, Verdict::unknown);
  EXPECT_TRUE(fold({Finding{Verdict::dead, true, "exited"}, http_dead}).conclusive);
}

TEST(TargetCheck, ProbeFailureIsInconclusiveDead) {
  ProbeOutcome o;
  o.alive = false;
  o.detail = "connect: Connection refused";
  auto f = probe_finding("tcp", o);
  EXPECT_EQ(f.verdict, Verdict::dead);
  EXPECT_FALSE(f.conclusive);
  EXPECT_EQ(f.reason, "tcp: connect: Connection refused");
}
