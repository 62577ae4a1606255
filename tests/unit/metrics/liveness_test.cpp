#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "metrics/liveness.hpp"

using namespace healthsweep::metrics;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {
const steady::time_point t0{std::chrono::hours(1000)};
const std::chrono::system_clock::time_point w0{std::chrono::hours(490000)};
}  // namespace

TEST(Liveness, EverySubsystemStartsDisabledAndTheWholeIsOk) {
  LivenessRegistry r;
  const auto v = r.view(t0, w0);
  EXPECT_EQ(v.status, Status::ok);
  for (const auto& s : v.subsystems) EXPECT_EQ(s.status, Status::disabled);
  EXPECT_TRUE(r.all_fresh(t0));
}

TEST(Liveness, EnabledSubsystemThatNeverTicksGoesStaleAfterStaleAfter) {
  LivenessRegistry r;
  r.enable(Subsystem::redis, 60s, t0);
  EXPECT_EQ(r.view(t0 + 59s, w0).status, Status::ok);
  EXPECT_EQ(r.view(t0 + 61s, w0).status, Status::stale);
  EXPECT_FALSE(r.all_fresh(t0 + 61s));
}

TEST(Liveness, TickKeepsFreshAndRecordsWallTime) {
  LivenessRegistry r;
  r.enable(Subsystem::engine, 10s, t0);
  r.tick(Subsystem::engine, t0 + 9s, w0);
  const auto v = r.view(t0 + 18s, w0 + 9s);
  const auto& e = v.subsystems[static_cast<size_t>(Subsystem::engine)];
  EXPECT_EQ(e.status, Status::ok);
  ASSERT_TRUE(e.last_tick.has_value());
  EXPECT_EQ(*e.last_tick, w0);
  EXPECT_DOUBLE_EQ(e.age_seconds, 9.0);
  EXPECT_EQ(r.view(t0 + 20s, w0).status, Status::stale);
}

TEST(Liveness, DisabledSubsystemNeverMakesTheWholeStale) {
  LivenessRegistry r;
  r.enable(Subsystem::passive, 1s, t0);
  r.disable(Subsystem::passive);
  EXPECT_EQ(r.view(t0 + 1h, w0).status, Status::ok);
  EXPECT_TRUE(r.all_fresh(t0 + 1h));
}

TEST(Liveness, OneStaleSubsystemMakesTheWholeStaleAndOthersStayOk) {
  LivenessRegistry r;
  r.enable(Subsystem::passive, 10s, t0);
  r.enable(Subsystem::store, 10s, t0);
  r.tick(Subsystem::passive, t0 + 15s, w0);
  const auto v = r.view(t0 + 16s, w0);
  EXPECT_EQ(v.status, Status::stale);
  EXPECT_EQ(v.subsystems[static_cast<size_t>(Subsystem::passive)].status, Status::ok);
  EXPECT_EQ(v.subsystems[static_cast<size_t>(Subsystem::store)].status, Status::stale);
}

TEST(Liveness, JsonHasTheShapeOfSpecSection4) {
  LivenessRegistry r;
  r.enable(Subsystem::passive, 60s, t0);
  r.tick(Subsystem::passive, t0, std::chrono::system_clock::time_point{} +
                                       std::chrono::milliseconds(1795651200123));
  const auto j = boost::json::parse(to_json(r.view(t0 + 400ms, w0))).as_object();
  EXPECT_EQ(j.at("status").as_string(), "ok");
  const auto& p = j.at("subsystems").as_object().at("passive").as_object();
  EXPECT_EQ(p.at("status").as_string(), "ok");
  EXPECT_EQ(p.at("last_tick").as_string(), "2026-11-26T00:00:00.123Z");
  EXPECT_DOUBLE_EQ(p.at("age_seconds").to_number<double>(), 0.4);
  EXPECT_EQ(p.at("stale_after_seconds").as_int64(), 60);
  for (auto name : {"proactive", "reactive", "redis", "engine", "store"})
    EXPECT_EQ(j.at("subsystems").as_object().at(name).as_object().at("status").as_string(), "disabled");
}

// The loop's own heartbeat (SPEC section 7): the watchdog asks about loops,
// /admin/liveness about evidence; one does not move the other.
TEST(LivenessLoops, NoWatchedLoopIsNeverLate) {
  LivenessRegistry r;
  r.enable(Subsystem::redis, 10s, t0);
  EXPECT_FALSE(r.late_loop(t0 + 1h).has_value()) << "redis is a dependency, no loop of its own";
}

TEST(LivenessLoops, LoopTicksKeepTheLoopOnScheduleWhileTheSubsystemGoesStale) {
  LivenessRegistry r;
  r.enable(Subsystem::passive, 10s, t0);
  r.watch_loop(Subsystem::passive, 20s, t0);
  for (auto t = t0 + 5s; t < t0 + 2min; t += 5s) r.loop_tick(Subsystem::passive, t);
  EXPECT_FALSE(r.late_loop(t0 + 2min).has_value());
  EXPECT_EQ(r.view(t0 + 2min, w0).status, Status::stale) << "no evidence tick: stale all the same";
  EXPECT_FALSE(r.all_fresh(t0 + 2min));
}

TEST(LivenessLoops, ALoopThatStopsTurningIsLateAfterItsBudget) {
  LivenessRegistry r;
  r.enable(Subsystem::store, 10s, t0);
  r.enable(Subsystem::proactive, 10s, t0);
  r.watch_loop(Subsystem::store, 30s, t0);
  r.watch_loop(Subsystem::proactive, 30s, t0);
  r.loop_tick(Subsystem::store, t0 + 10s);
  r.loop_tick(Subsystem::proactive, t0 + 20s);
  r.tick(Subsystem::store, t0 + 39s);  // evidence alone does not count as a turn
  EXPECT_FALSE(r.late_loop(t0 + 40s).has_value());
  EXPECT_EQ(r.late_loop(t0 + 41s), Subsystem::store);
  r.loop_tick(Subsystem::store, t0 + 41s);
  EXPECT_EQ(r.late_loop(t0 + 51s), Subsystem::proactive);
}

TEST(LivenessLoops, BudgetCountsFromTheWatchAndSurvivesARewatch) {
  LivenessRegistry r;
  r.enable(Subsystem::reactive, 10s, t0);
  r.watch_loop(Subsystem::reactive, 10s, t0 + 1h);
  EXPECT_FALSE(r.late_loop(t0 + 1h + 10s).has_value()) << "never ticked: counted from the watch";
  EXPECT_TRUE(r.late_loop(t0 + 1h + 11s).has_value());
  r.loop_tick(Subsystem::reactive, t0 + 2h);
  r.watch_loop(Subsystem::reactive, 1min, t0 + 2h + 30s);  // reload: longer budget, same last tick
  EXPECT_FALSE(r.late_loop(t0 + 2h + 60s).has_value());
  EXPECT_TRUE(r.late_loop(t0 + 2h + 61s).has_value());
}

TEST(LivenessLoops, ADisabledSubsystemsLoopIsNeverLate) {
  LivenessRegistry r;
  r.enable(Subsystem::passive, 10s, t0);
  r.watch_loop(Subsystem::passive, 10s, t0);
  r.disable(Subsystem::passive);
  EXPECT_FALSE(r.late_loop(t0 + 1h).has_value());
}
