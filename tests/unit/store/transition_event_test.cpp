#include "store/transition_event.hpp"

#include <gtest/gtest.h>

using namespace healthsweep::store;
using namespace healthsweep::sweeps::decide;
using namespace std::chrono_literals;

TEST(TransitionEvent, AddedTargetIsNoEvent) {
  Transition t;
  t.target = "ws-1";
  t.added = true;
  EXPECT_FALSE(event_of(t, nullptr));
}

TEST(TransitionEvent, StateChangeCarriesStatesLayerLatencyAndTheRowAfterIt) {
  Transition t;
  t.target = "ws-1";
  t.from = State::online;
  t.to = State::offline;
  t.layer = Layer::passive;
  t.reason = "heartbeat expired";
  t.at = std::chrono::steady_clock::now();
  t.wall = std::chrono::system_clock::now();
  t.observed_at = t.at - 250ms;
  TargetRecord after;
  after.restarts = 3;
  after.quarantined = true;
  const auto e = event_of(t, &after);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->target, "ws-1");
  EXPECT_EQ(e->from_state, "online");
  EXPECT_EQ(e->to_state, "offline");
  EXPECT_EQ(e->layer, "passive");
  EXPECT_EQ(e->reason, "heartbeat expired");
  EXPECT_EQ(e->at, t.wall);
  EXPECT_EQ(e->restarts, 3);
  EXPECT_TRUE(e->quarantined);
  EXPECT_FALSE(e->removed);
  EXPECT_NE(e->detail_json.find("\"detection_latency_seconds\":2.5E-1"), std::string::npos) << e->detail_json;
}

TEST(TransitionEvent, RemovalIsAnEventMarkedRemoved) {
  Transition t;
  t.target = "ws-2";
  t.from = State::online;
  t.to = State::unknown;
  t.removed = true;
  const auto e = event_of(t, nullptr);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->removed);
  EXPECT_EQ(e->detail_json, R"({"removed":true})");
}

TEST(TransitionEvent, RowsComeBackAsRestoredTargetsWithNegativeCountsClamped) {
  std::vector<TargetRow> rows{TargetRow{"a", 4, true, {}}, TargetRow{"b", -1, false, {}}};
  const auto r = restored_targets(std::move(rows));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, "a");
  EXPECT_EQ(r[0].restarts, 4u);
  EXPECT_TRUE(r[0].quarantined);
  EXPECT_EQ(r[1].restarts, 0u);
}
