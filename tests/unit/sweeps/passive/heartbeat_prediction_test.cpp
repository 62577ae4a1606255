// Predicted deadlines (issue 15): a refresh notification moves the deadline
// by the learnt TTL without a PTTL; the prediction is confirmed by a PTTL
// before any verdict. Fake time, no Redis.
#include "sweeps/passive/heartbeat_deadlines.hpp"
#include "sweeps/passive/passive_layer.hpp"

#include <gtest/gtest.h>

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

using namespace std::chrono_literals;
using TP = HeartbeatDeadlines::TimePoint;
const TP t0 = TP{} + 1000s;
const HeartbeatDeadlines::WallTime wall0 = std::chrono::system_clock::time_point{} + 1000s;

struct Predicting {
  Predicting(unsigned sample_every = 4) {
    d.set_prediction(sample_every, 50ms);
    d.set_targets({"a"}, t0);
  }
  HeartbeatDeadlines d{60s};
  bool refresh(TP at) { return d.observe_refresh("a", at, wall0 + (at - t0)); }
  HeartbeatDeadlines::Observation pttl(long long ms, TP now) {
    return d.observe_pttl("a", ms, now, wall0 + (now - t0), now, wall0 + (now - t0));
  }
  // The first refresh, measured: alive, TTL 30 s learnt (10 ms of notification delay).
  void learn(TP at = t0) {
    ASSERT_TRUE(refresh(at));
    const auto v = pttl(29990, at + 10ms);
    ASSERT_TRUE(v.verdict);
    ASSERT_EQ(v.verdict->verdict, Verdict::alive);
  }
};

TEST(HeartbeatPrediction, FirstRefreshIsMeasuredAndTeachesTheTtl) {
  Predicting p;
  EXPECT_FALSE(p.d.learnt_ttl("a"));
  p.learn();
  EXPECT_EQ(p.d.learnt_ttl("a"), 30000ms);
  EXPECT_EQ(p.d.key_deadline("a"), t0 + 30s);
}

TEST(HeartbeatPrediction, LaterRefreshesArePredictedWithoutPttlAndConfirmedEarly) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s)) << "no PTTL for a predicted refresh";
  EXPECT_EQ(p.d.key_deadline("a"), t0 + 50s);
  EXPECT_EQ(p.d.last_heartbeat("a"), wall0 + 20s);
  EXPECT_EQ(p.d.next_wake(), t0 + 50s - 50ms) << "confirmed a margin before the deadline";
}

TEST(HeartbeatPrediction, ARefreshHandledLateStillWakesBeforeRedisCanExpireTheKeyWithTheDefaultMargin) {
  HeartbeatDeadlines d{60s};
  d.set_prediction(10, PassiveOptions{}.predict_margin);
  d.set_targets({"a"}, t0);
  ASSERT_TRUE(d.observe_refresh("a", t0, wall0));
  ASSERT_TRUE(d.observe_pttl("a", 30000, t0, wall0, t0, wall0).verdict);
  // The key is written again at t0 + 20 s (expires at t0 + 50 s); the loop
  // gets to the notification 200 ms later (a fleet run saw >= 96 ms).
  const auto written = t0 + 20s;
  EXPECT_FALSE(d.observe_refresh("a", written + 200ms, wall0 + 20200ms));
  ASSERT_TRUE(d.next_wake());
  EXPECT_LT(*d.next_wake(), written + 30s) << "the confirming ask comes while the key is still there";
}

TEST(HeartbeatPrediction, EverySampleEveryThRefreshIsMeasuredAgain) {
  Predicting p(3);
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));
  EXPECT_FALSE(p.refresh(t0 + 40s));
  EXPECT_TRUE(p.refresh(t0 + 60s)) << "the third refresh since the sample";
  // The TTL became 10 s: learnt from this sample, used by the next prediction.
  EXPECT_FALSE(p.pttl(10000, t0 + 60s).verdict);
  EXPECT_EQ(p.d.learnt_ttl("a"), 10000ms);
  EXPECT_FALSE(p.refresh(t0 + 65s));
  EXPECT_EQ(p.d.key_deadline("a"), t0 + 75s);
}

TEST(HeartbeatPrediction, SampleEveryZeroMeasuresEveryRefresh) {
  Predicting p(0);
  p.learn();
  EXPECT_TRUE(p.refresh(t0 + 20s));
  EXPECT_TRUE(p.refresh(t0 + 40s));
}

TEST(HeartbeatPrediction, TargetNotAliveIsAlwaysMeasured) {
  Predicting p;
  EXPECT_TRUE(p.refresh(t0)) << "unknown: a PTTL makes it alive";
  p.pttl(-2, t0 + 61s);  // gone after the grace: dead
  ASSERT_EQ(p.d.state("a"), HeartbeatState::dead);
  EXPECT_TRUE(p.refresh(t0 + 70s)) << "dead: a PTTL says it resumed";
}

// Issue 15: "a predicted deadline confirmed late by a PTTL still yields the right verdict".
TEST(HeartbeatPrediction, PredictedDeadlineConfirmedLateButRefreshedGivesNoDeadVerdictAndANewDeadline) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));  // predicted: t0 + 50 s
  // The refresh at t0 + 40 s went unseen (notification lost); the
  // confirmation goes out late, 200 ms after the predicted deadline.
  const auto late = t0 + 50s + 200ms;
  ASSERT_FALSE(p.d.take_due(late, 5s).empty());
  const auto o = p.pttl(19800, late);
  EXPECT_FALSE(o.verdict) << "a refreshed key is never judged dead";
  EXPECT_EQ(p.d.state("a"), HeartbeatState::alive);
  EXPECT_EQ(p.d.key_deadline("a"), t0 + 70s);
  EXPECT_EQ(p.d.next_wake(), t0 + 70s + 1ms) << "the new, measured deadline is armed (its last millisecond included)";
  EXPECT_EQ(p.d.last_heartbeat("a"), wall0 + 50s + 200ms);
  // Off the prediction: the next refresh is measured, not predicted from a stale TTL.
  EXPECT_TRUE(p.refresh(t0 + 60s));
}

TEST(HeartbeatPrediction, PredictedDeadlineConfirmedLateAndGoneIsDeadAtThePredictedDeadline) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));  // predicted: t0 + 50 s
  const auto late = t0 + 50s + 200ms;
  ASSERT_FALSE(p.d.take_due(late, 5s).empty());
  const auto o = p.pttl(-2, late);
  ASSERT_TRUE(o.verdict);
  EXPECT_EQ(o.verdict->verdict, Verdict::dead);
  EXPECT_EQ(o.verdict->reason, "heartbeat expired");
  EXPECT_EQ(o.verdict->observed_at, t0 + 50s) << "observed at the deadline, not at the late confirmation";
  EXPECT_FALSE(p.d.next_wake());
}

TEST(HeartbeatPrediction, ConfirmationBeforeTheDeadlineRearmsOnTheMeasuredDeadline) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));  // predicted t0 + 50 s, confirmed at t0 + 49.95 s
  const auto confirm = t0 + 50s - 50ms;
  ASSERT_EQ(p.d.take_due(confirm, 5s), std::vector<std::string>{"a"});
  EXPECT_FALSE(p.pttl(45, confirm).verdict);
  EXPECT_EQ(p.d.next_wake(), confirm + 46ms) << "the measured deadline, once its last millisecond is over";
  EXPECT_EQ(p.d.learnt_ttl("a"), 30000ms) << "within the tolerance: still predicting";
  EXPECT_FALSE(p.refresh(t0 + 49s));
  const auto o = p.pttl(-2, t0 + 79s + 1ms);
  ASSERT_TRUE(o.verdict);
  EXPECT_EQ(o.verdict->observed_at, t0 + 79s);
}

TEST(HeartbeatPrediction, ShortenedTtlFoundByAConfirmationStopsPrediction) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));  // predicted t0 + 50 s; the target set 5 s
  EXPECT_FALSE(p.pttl(4000, t0 + 21s).verdict);  // a reconciliation's PTTL
  EXPECT_EQ(p.d.key_deadline("a"), t0 + 25s) << "the measured, earlier deadline wins";
  EXPECT_EQ(p.d.next_wake(), t0 + 25s + 1ms);
  EXPECT_TRUE(p.refresh(t0 + 24s)) << "the TTL changed: measure again";
}

TEST(HeartbeatPrediction, KeyLosingItsTtlIsMeasuredAgain) {
  Predicting p;
  p.learn();
  EXPECT_FALSE(p.refresh(t0 + 20s));
  EXPECT_FALSE(p.pttl(-1, t0 + 50s - 50ms).verdict) << "no TTL: alive";
  EXPECT_FALSE(p.d.learnt_ttl("a"));
  EXPECT_FALSE(p.d.next_wake());
  EXPECT_TRUE(p.refresh(t0 + 60s));
}

}  // namespace
}  // namespace healthsweep::sweeps
