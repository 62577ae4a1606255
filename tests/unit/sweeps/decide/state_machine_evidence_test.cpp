// Evidence in, transitions out: thresholds, conclusive vs inconclusive,
// recording, target registry (add, pause, remove).
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

using EvidenceTest = StateMachineTest;

TEST_F(EvidenceTest, NewTargetStartsUnknownWithAddedTransition) {
  Effects fx = add("ws-1");
  ASSERT_EQ(fx.transitions.size(), 1u);
  EXPECT_TRUE(fx.transitions[0].added);
  EXPECT_EQ(fx.transitions[0].from, State::unknown);
  EXPECT_EQ(fx.transitions[0].to, State::unknown);
  EXPECT_EQ(fx.transitions[0].target, "ws-1");
  EXPECT_EQ(fx.transitions[0].wall, wall0);
  EXPECT_EQ(state("ws-1"), State::unknown);
  EXPECT_EQ(machine().size(), 1u);
  EXPECT_TRUE(fx.orders.empty());
}

TEST_F(EvidenceTest, UpsertOfKnownTargetUpdatesSpecWithoutTransition) {
  add("ws-1");
  Effects fx = add("ws-1", false, "other-container");
  EXPECT_TRUE(fx.transitions.empty());
  EXPECT_EQ(machine().find("ws-1")->spec.container(), "other-container");
  EXPECT_EQ(machine().size(), 1u);
}

TEST_F(EvidenceTest, InconclusiveDeadBelowThresholdKeepsTargetSuspect) {
  cfg.proactive.failure_threshold = 3;
  make(5s);
  add("ws-1");
  alive("ws-1");
  Effects first = dead("ws-1", false, "http 503");
  EXPECT_EQ(last(first).to, State::suspect);
  EXPECT_EQ(last(first).reason, "http 503");
  Effects second = dead("ws-1", false, "http 503");
  EXPECT_TRUE(second.transitions.empty()) << "still suspect, no new transition";
  EXPECT_EQ(state("ws-1"), State::suspect);
  Effects third = dead("ws-1", false, "http 503");
  EXPECT_EQ(last(third).from, State::suspect);
  EXPECT_EQ(last(third).to, State::offline);
}

TEST_F(EvidenceTest, FailureThresholdOfOneGoesOfflineOnFirstDead) {
  cfg.proactive.failure_threshold = 1;
  add("ws-1");
  alive("ws-1");
  Effects fx = dead("ws-1", false);
  ASSERT_EQ(fx.transitions.size(), 2u) << "offline, then the restart order";
  EXPECT_EQ(fx.transitions[0].from, State::online);
  EXPECT_EQ(fx.transitions[0].to, State::offline);
}

TEST_F(EvidenceTest, ConclusiveDeadGoesOfflineAtOnce) {
  make(5s);  // keep the restart out of this call
  add("ws-1");
  alive("ws-1");
  Effects fx = evidence("ws-1", Verdict::dead, true, Layer::passive, "heartbeat expired");
  ASSERT_EQ(fx.transitions.size(), 1u);
  EXPECT_EQ(fx.transitions[0].from, State::online);
  EXPECT_EQ(fx.transitions[0].to, State::offline);
  EXPECT_EQ(fx.transitions[0].layer, Layer::passive);
  EXPECT_EQ(fx.transitions[0].reason, "heartbeat expired");
}

TEST_F(EvidenceTest, AliveAtSuccessThresholdGoesOnline) {
  cfg.proactive.success_threshold = 2;
  add("ws-1");
  EXPECT_TRUE(alive("ws-1").transitions.empty());
  EXPECT_EQ(state("ws-1"), State::unknown);
  Effects fx = alive("ws-1");
  EXPECT_EQ(last(fx).to, State::online);
  EXPECT_EQ(last(fx).reason, "container running");
}

TEST_F(EvidenceTest, AliveEvidenceResetsTheDeadStreak) {
  make(5s);  // keep the restart out of the picture
  add("ws-1");
  alive("ws-1");
  dead("ws-1", false);
  alive("ws-1");
  dead("ws-1", false);
  EXPECT_EQ(state("ws-1"), State::suspect) << "streak restarted after alive";
  dead("ws-1", false);
  EXPECT_EQ(state("ws-1"), State::offline);
}

TEST_F(EvidenceTest, SuspectTargetRecoversWithAlive) {
  add("ws-1");
  dead("ws-1", false);
  Effects fx = alive("ws-1");
  EXPECT_EQ(last(fx).from, State::suspect);
  EXPECT_EQ(last(fx).to, State::online);
}

TEST_F(EvidenceTest, UnknownVerdictIsOnlyRecorded) {
  make(5s);
  add("ws-1");
  alive("ws-1");
  dead("ws-1", false);
  Effects fx = evidence("ws-1", Verdict::unknown, false, Layer::proactive, "engine timeout");
  EXPECT_TRUE(fx.transitions.empty());
  dead("ws-1", false);
  EXPECT_EQ(state("ws-1"), State::offline) << "unknown neither breaks nor extends the streak";
  EXPECT_EQ(machine().find("ws-1")->evidence(Layer::proactive).reason.view(), "container exited");
}

TEST_F(EvidenceTest, EvidenceIsRecordedPerLayerWithHeartbeatTime) {
  add("ws-1");
  const auto beat = now - 3s;
  evidence("ws-1", Verdict::alive, false, Layer::passive, "heartbeat present", beat);
  now += 1s;
  evidence("ws-1", Verdict::unknown, false, Layer::reactive, "engine unreachable");
  const TargetRecord* rec = machine().find("ws-1");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->last_heartbeat, beat);
  EXPECT_TRUE(rec->evidence(Layer::passive).seen);
  EXPECT_EQ(rec->evidence(Layer::passive).verdict, Verdict::alive);
  EXPECT_EQ(rec->evidence(Layer::passive).reason.view(), "heartbeat present");
  EXPECT_FALSE(rec->evidence(Layer::proactive).seen);
  EXPECT_EQ(rec->evidence(Layer::reactive).verdict, Verdict::unknown);
  EXPECT_EQ(rec->evidence(Layer::reactive).at, now);
}

TEST_F(EvidenceTest, HeartbeatTimeIsNowWhenObservedAtIsUnset) {
  add("ws-1");
  evidence("ws-1", Verdict::alive, false, Layer::passive, "heartbeat present");
  EXPECT_EQ(machine().find("ws-1")->last_heartbeat, now);
  evidence("ws-1", Verdict::alive, false, Layer::proactive, "running");
  EXPECT_EQ(machine().find("ws-1")->last_heartbeat, now) << "only passive alive sets it";
}

TEST_F(EvidenceTest, ObservedAtIsCarriedIntoTheTransition) {
  add("ws-1");
  alive("ws-1");
  const auto deadline = now - 40ms;
  Effects fx = evidence("ws-1", Verdict::dead, true, Layer::passive, "heartbeat expired", deadline);
  ASSERT_TRUE(fx.transitions[0].observed_at.has_value());
  EXPECT_EQ(*fx.transitions[0].observed_at, deadline);
  EXPECT_EQ(fx.transitions[0].at, now);
}

TEST_F(EvidenceTest, EvidenceForAnUnknownIdIsIgnored) {
  add("ws-1");
  Effects fx = dead("nope");
  EXPECT_TRUE(fx.empty());
  EXPECT_EQ(machine().size(), 1u);
}

TEST_F(EvidenceTest, RemoveEmitsRemovedTransitionAndForgetsTheTarget) {
  add("ws-1");
  alive("ws-1");
  Effects fx = machine().remove("ws-1", now);
  ASSERT_EQ(fx.transitions.size(), 1u);
  EXPECT_TRUE(fx.transitions[0].removed);
  EXPECT_EQ(fx.transitions[0].from, State::online);
  EXPECT_EQ(fx.transitions[0].to, State::unknown);
  EXPECT_EQ(machine().find("ws-1"), nullptr);
  EXPECT_EQ(machine().size(), 0u);
  const auto counts = machine().counts_by_state();
  for (std::size_t n : counts) EXPECT_EQ(n, 0u);
  EXPECT_TRUE(machine().remove("ws-1", now).empty()) << "second remove is a no-op";
}

TEST_F(EvidenceTest, CountsByStateFollowTransitions) {
  add_fleet(3);
  alive("ws-0");
  dead("ws-1", false);
  const auto counts = machine().counts_by_state();
  EXPECT_EQ(counts[static_cast<std::size_t>(State::online)], 1u);
  EXPECT_EQ(counts[static_cast<std::size_t>(State::suspect)], 1u);
  EXPECT_EQ(counts[static_cast<std::size_t>(State::unknown)], 1u);
  std::size_t seen = 0;
  machine().for_each([&](const TargetRecord&) { ++seen; });
  EXPECT_EQ(seen, 3u);
}

TEST_F(EvidenceTest, PausedTargetRecordsEvidenceButIsNeverRemediated) {
  Effects added = add("ws-1", /*paused=*/true);
  EXPECT_EQ(last(added).to, State::paused);
  Effects fx = dead("ws-1", true, "container exited");
  fx.append(at(1h));
  EXPECT_TRUE(fx.transitions.empty());
  EXPECT_TRUE(fx.orders.empty());
  EXPECT_EQ(state("ws-1"), State::paused);
  EXPECT_EQ(machine().find("ws-1")->evidence(Layer::proactive).reason.view(), "container exited");
  EXPECT_FALSE(machine().next_deadline().has_value());
}

TEST_F(EvidenceTest, PausingCancelsAPendingRestart) {
  make(5s);
  add("ws-1");
  dead("ws-1");
  EXPECT_EQ(state("ws-1"), State::offline);
  Effects fx = add("ws-1", /*paused=*/true);
  EXPECT_EQ(last(fx).to, State::paused);
  Effects later = at(1min);
  EXPECT_TRUE(later.orders.empty());
}

TEST_F(EvidenceTest, UnpausingStartsOverFromUnknown) {
  add("ws-1", true);
  Effects fx = add("ws-1", false);
  EXPECT_EQ(last(fx).from, State::paused);
  EXPECT_EQ(last(fx).to, State::unknown);
  dead("ws-1", false);
  EXPECT_EQ(state("ws-1"), State::suspect) << "streak from before the pause is gone";
}

TEST_F(EvidenceTest, ReusedSlotIgnoresTheRemovedTargetsDeadline) {
  make(5s);
  add("ws-1");
  dead("ws-1");  // restart due at +5s
  machine().remove("ws-1", now);
  add("ws-2");   // takes the freed slot
  EXPECT_FALSE(machine().next_deadline().has_value());
  Effects fx = at(10s);
  EXPECT_TRUE(fx.orders.empty());
  EXPECT_EQ(state("ws-2"), State::unknown);
}

TEST_F(EvidenceTest, ReasonsAreInternedAndFreed) {
  add_fleet(50);
  const std::size_t before = machine().interned_texts();
  for (int i = 0; i < 50; ++i) dead("ws-" + std::to_string(i), false, "http 503");
  EXPECT_EQ(machine().interned_texts(), before + 1) << "one copy of a repeated reason";
  for (int i = 0; i < 50; ++i) machine().remove("ws-" + std::to_string(i), now);
  EXPECT_LT(machine().interned_texts(), before + 1);
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
