// Fleet::set_ownership()/reown() (issue 14): the sources keep every target;
// only owned ones are in the state machine. A target that moves away is
// handed over (a transition marked handed_over: no event, its row stays); a
// target that moves here is taken up and named to on_taken_over once, for
// its row to be read. Ownership comes from the spec: engine locality and a
// pin reach the predicate through TargetSources' merge.
#include "sweeps/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <set>

#include "metrics/metrics.hpp"
#include "store/transition_event.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
namespace {

TargetSpec spec(const std::string& id, std::string instance = {}) {
  TargetSpec s;
  s.id = id;
  s.instance = std::move(instance);
  return s;
}

struct FleetOwnership : ::testing::Test {
  boost::asio::io_context ioc;
  config::Config cfg;
  metrics::Metrics metrics{"test"};
  Fleet fleet{ioc.get_executor(), cfg, metrics};
  std::set<std::string> mine;     // the predicate's answer: here
  std::set<std::string> nobodys;  // owned by nobody; the rest by a peer
  metrics::OwnershipMetrics gauges = metrics.ownership();
  std::vector<std::vector<std::string>> taken;
  std::vector<Transition> transitions;

  void SetUp() override {
    fleet.on_transition([this](const Transition& t) { transitions.push_back(t); });
    fleet.on_taken_over([this](std::vector<std::string> ids) { taken.push_back(std::move(ids)); });
    fleet.set_ownership([this](const TargetSpec& s) {
      if (mine.contains(s.id)) return Fleet::Owner::here;
      return nobodys.contains(s.id) ? Fleet::Owner::nobody : Fleet::Owner::peer;
    });
  }
  void TearDown() override { fleet.stop(); }
  std::set<std::string> judged() const {
    auto ids = fleet.ids();
    return {ids.begin(), ids.end()};
  }
};

TEST_F(FleetOwnership, OnlyOwnedTargetsAreJudgedAndEveryNamedOneIsKnown) {
  mine = {"a"};
  fleet.replace_source(TargetSources::static_source, {spec("a"), spec("b"), spec("c")});
  EXPECT_EQ(judged(), (std::set<std::string>{"a"}));
  EXPECT_EQ(fleet.known(), 3u);
  EXPECT_EQ(fleet.size(), 1u);
  EXPECT_FALSE(fleet.contains("b"));
  ASSERT_TRUE(fleet.known_spec("b")) << "known here though judged elsewhere: the hook forwards its reports";
  EXPECT_EQ(fleet.known_spec("b")->id, "b");
  EXPECT_FALSE(fleet.known_spec("z"));
  ASSERT_EQ(taken.size(), 1u) << "a target named while owned is taken over: its row may exist";
  EXPECT_EQ(taken[0], std::vector<std::string>{"a"});
}

TEST_F(FleetOwnership, ReownHandsOverWithoutAnEventAndTakesUpEachNewTargetOnce) {
  mine = {"a", "b"};
  fleet.replace_source(TargetSources::static_source, {spec("a"), spec("b"), spec("c")});
  taken.clear();
  transitions.clear();
  mine = {"b", "c"};
  fleet.reown();
  EXPECT_EQ(judged(), (std::set<std::string>{"b", "c"}));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], std::vector<std::string>{"c"});
  ASSERT_EQ(transitions.size(), 2u);
  const auto& away = transitions[0].target == "a" ? transitions[0] : transitions[1];
  EXPECT_TRUE(away.removed);
  EXPECT_TRUE(away.handed_over);
  EXPECT_FALSE(store::event_of(away, nullptr).has_value()) << "a hand-over writes no event and deletes no row";
  const auto& here = transitions[0].target == "c" ? transitions[0] : transitions[1];
  EXPECT_TRUE(here.added);
  // Nothing changed: nothing moves, nothing is read again.
  taken.clear();
  transitions.clear();
  fleet.reown();
  EXPECT_TRUE(taken.empty());
  EXPECT_TRUE(transitions.empty());
}

TEST_F(FleetOwnership, ALeavingTargetIsRemovedOnlyWhereItWasJudged) {
  mine = {"a"};
  fleet.replace_source(TargetSources::static_source, {spec("a"), spec("b")});
  transitions.clear();
  fleet.replace_source(TargetSources::static_source, {});
  ASSERT_EQ(transitions.size(), 1u) << "b was judged elsewhere: its owner writes its removal";
  EXPECT_EQ(transitions[0].target, "a");
  EXPECT_TRUE(transitions[0].removed);
  EXPECT_FALSE(transitions[0].handed_over);
  EXPECT_TRUE(store::event_of(transitions[0], nullptr).has_value());
  EXPECT_EQ(fleet.known(), 0u);
}

TEST_F(FleetOwnership, TheSpecCarriesEngineLocalityAndThePinToThePredicate) {
  fleet.set_ownership([](const TargetSpec& s) {
    return s.on_engine || s.instance == "me" ? Fleet::Owner::here : Fleet::Owner::peer;
  });
  fleet.replace_source(TargetSources::postgres_source, {spec("pinned", "me"), spec("elsewhere", "peer")});
  TargetSpec on_engine = spec("box");
  fleet.replace_source(TargetSources::engine_source, {on_engine});
  EXPECT_EQ(judged(), (std::set<std::string>{"pinned", "box"}));
  // A pin that changes moves the target at once.
  fleet.replace_source(TargetSources::postgres_source, {spec("pinned", "peer"), spec("elsewhere", "me")});
  EXPECT_EQ(judged(), (std::set<std::string>{"elsewhere", "box"}));
}

// The cluster_targets_* metrics: owned + peer + unowned is every known
// target; a takeover and a hand-over count each target that moved once.
TEST_F(FleetOwnership, TheGaugesSplitTheKnownTargetsAndTheCountersCountEachTargetThatMoved) {
  mine = {"a"};
  nobodys = {"d"};
  fleet.replace_source(TargetSources::static_source, {spec("a"), spec("b"), spec("c"), spec("d")});
  EXPECT_EQ(gauges.owned.Value(), 1);
  EXPECT_EQ(gauges.peer_owned.Value(), 2);
  EXPECT_EQ(gauges.unowned.Value(), 1);
  EXPECT_EQ(gauges.taken_over.Value(), 0) << "first named while owned here: taken from no one";
  // A peer dies: its b and c, and the unowned d, move here.
  mine = {"a", "b", "c", "d"};
  nobodys = {};
  fleet.reown();
  EXPECT_EQ(gauges.owned.Value(), 4);
  EXPECT_EQ(gauges.peer_owned.Value(), 0);
  EXPECT_EQ(gauges.unowned.Value(), 0);
  EXPECT_EQ(gauges.taken_over.Value(), 3);
  EXPECT_EQ(gauges.handed_over.Value(), 0);
  fleet.reown();  // nothing moved: nothing counted
  EXPECT_EQ(gauges.taken_over.Value(), 3);
  // This instance loses its lease: nobody owns anything it knows of.
  mine = {};
  nobodys = {"a", "b", "c", "d"};
  fleet.reown();
  EXPECT_EQ(gauges.owned.Value(), 0);
  EXPECT_EQ(gauges.unowned.Value(), 4);
  EXPECT_EQ(gauges.handed_over.Value(), 4);
  // A target that leaves every source leaves the unowned count too.
  fleet.replace_source(TargetSources::static_source, {spec("a"), spec("b")});
  EXPECT_EQ(gauges.unowned.Value(), 2);
  EXPECT_EQ(gauges.peer_owned.Value(), 0);
}

TEST_F(FleetOwnership, APinThatMovesCountsAsAHandOverHereAndATakeoverThere) {
  fleet.set_ownership([](const TargetSpec& s) {
    if (s.instance == "me") return Fleet::Owner::here;
    return s.instance == "dead" ? Fleet::Owner::nobody : Fleet::Owner::peer;
  });
  fleet.replace_source(TargetSources::postgres_source, {spec("p", "me"), spec("q", "dead")});
  EXPECT_EQ(gauges.unowned.Value(), 1);
  EXPECT_EQ(gauges.taken_over.Value(), 0);
  fleet.replace_source(TargetSources::postgres_source, {spec("p", "peer"), spec("q", "me")});
  EXPECT_EQ(judged(), (std::set<std::string>{"q"}));
  EXPECT_EQ(gauges.taken_over.Value(), 1);
  EXPECT_EQ(gauges.handed_over.Value(), 1);
  EXPECT_EQ(gauges.unowned.Value(), 0);
  EXPECT_EQ(gauges.peer_owned.Value(), 1);
}

TEST_F(FleetOwnership, RestoredRowsOfTargetsJudgedElsewhereWaitAndDoNotApplyTwice) {
  mine = {};
  fleet.replace_source(TargetSources::static_source, {spec("a")});
  mine = {"a"};
  fleet.reown();
  ASSERT_EQ(taken.size(), 1u);
  fleet.restore({RestoredTarget{"a", 4, false, {}}});  // the row read for the takeover
  EXPECT_EQ(fleet.machine().find("a")->restarts, 4u);
}

}  // namespace
}  // namespace healthsweep::sweeps
