#include <gtest/gtest.h>

#include "sweeps/target_sources.hpp"

using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;


namespace {
TargetSpec spec(std::string id, std::string container = {}, std::string http = {}, bool paused = false) {
  return TargetSpec{std::move(id), std::move(container), std::move(http), std::nullopt, paused};
}
}  // namespace

TEST(TargetSources, NewTargetsAreUpsertsAndUnchangedOnesAreNot) {
  TargetSources s;
  auto d = s.replace(TargetSources::engine_source, {spec("a", "a"), spec("b", "b")});
  EXPECT_EQ(d.upserts.size(), 2u);
  EXPECT_TRUE(d.removals.empty());
  d = s.replace(TargetSources::engine_source, {spec("a", "a"), spec("b", "b")});
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_TRUE(d.removals.empty());
}

TEST(TargetSources, ATargetLeavingItsOnlySourceIsRemoved) {
  TargetSources s;
  s.replace(TargetSources::engine_source, {spec("a", "a"), spec("b", "b")});
  auto d = s.replace(TargetSources::engine_source, {spec("a", "a")});
  EXPECT_EQ(d.removals, (std::vector<std::string>{"b"}));
  EXPECT_EQ(s.size(), 1u);
}

TEST(TargetSources, ATargetInTwoSourcesStaysUntilItLeavesBoth) {
  TargetSources s;
  s.replace(TargetSources::static_source, {spec("a", "", "http://127.0.0.1:1/h")});
  s.replace(TargetSources::engine_source, {spec("a", "ctr-a")});
  EXPECT_EQ(s.find("a")->container, "ctr-a");
  EXPECT_EQ(s.find("a")->http, "http://127.0.0.1:1/h");
  auto d = s.replace(TargetSources::engine_source, {});
  EXPECT_TRUE(d.removals.empty());
  ASSERT_EQ(d.upserts.size(), 1u);
  EXPECT_EQ(d.upserts[0].container, "");
  d = s.replace(TargetSources::static_source, {});
  EXPECT_EQ(d.removals, (std::vector<std::string>{"a"}));
}

TEST(TargetSources, StaticWinsAFieldConflictAndPausedFromAnySourcePauses) {
  TargetSources s;
  s.replace(TargetSources::engine_source, {spec("a", "engine-name", "", true)});
  s.replace(TargetSources::static_source, {spec("a", "static-name")});
  EXPECT_EQ(s.find("a")->container, "static-name");
  EXPECT_TRUE(s.find("a")->paused);
}

TEST(TargetSources, ALaterDuplicateIdInOneSourceWins) {
  TargetSources s;
  auto d = s.replace(TargetSources::engine_source, {spec("a", "first"), spec("a", "second")});
  ASSERT_EQ(d.upserts.size(), 1u);
  EXPECT_EQ(d.upserts[0].container, "second");
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.find("a")->container, "second");
}

TEST(TargetSources, ForEachVisitsEveryIdOnceInIdOrderMergedAcrossSources) {
  TargetSources s;
  s.replace(TargetSources::static_source, {spec("c", "static-c"), spec("a")});
  s.replace(TargetSources::engine_source, {spec("b", "b"), spec("c", "engine-c", "", true)});
  std::vector<TargetSpec> seen;
  s.for_each([&](const TargetSpec& t) { seen.push_back(t); });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(seen[0].id, "a");
  EXPECT_FALSE(seen[0].on_engine);
  EXPECT_EQ(seen[1].id, "b");
  EXPECT_TRUE(seen[1].on_engine);
  EXPECT_EQ(seen[2].id, "c");
  EXPECT_EQ(seen[2].container, "static-c");
  EXPECT_TRUE(seen[2].paused);
  EXPECT_TRUE(seen[2].on_engine);
  EXPECT_FALSE(s.find("d"));
}

TEST(TargetSources, UpsertsAndRemovalsComeInIdOrderAndSizeFollows) {
  TargetSources s;
  auto d = s.replace(TargetSources::postgres_source, {spec("z"), spec("m"), spec("a")});
  ASSERT_EQ(d.upserts.size(), 3u);
  EXPECT_EQ(d.upserts[0].id, "a");
  EXPECT_EQ(d.upserts[2].id, "z");
  EXPECT_EQ(d.added.size(), 3u);
  d = s.replace(TargetSources::postgres_source, {spec("m", "now-a-container"), spec("b")});
  EXPECT_EQ(d.removals, (std::vector<std::string>{"a", "z"}));
  ASSERT_EQ(d.upserts.size(), 2u);
  EXPECT_EQ(d.upserts[0].id, "b");
  EXPECT_EQ(d.upserts[1].container, "now-a-container");
  EXPECT_EQ(d.added.size(), 1u);
  EXPECT_EQ(s.size(), 2u);
}

// The source's set is updated in place (issue 15): an unsorted list with a
// removal, an addition, a change and a duplicate among unchanged entries
// gives exactly those, in id order.
TEST(TargetSources, AnUnsortedListWithOneOfEachChangeGivesExactlyThoseChanges) {
  TargetSources s;
  s.replace(TargetSources::engine_source, {spec("d", "d"), spec("b", "b"), spec("a", "a"), spec("c", "c")});
  auto d = s.replace(TargetSources::engine_source,
                     {spec("e", "e"), spec("c", "c"), spec("a", "a"), spec("d", "d"), spec("d", "d-new")});
  EXPECT_EQ(d.removals, (std::vector<std::string>{"b"}));
  ASSERT_EQ(d.upserts.size(), 2u);
  EXPECT_EQ(d.upserts[0].id, "d");
  EXPECT_EQ(d.upserts[0].container, "d-new");  // the later duplicate, not the unchanged earlier one
  EXPECT_EQ(d.upserts[1].id, "e");
  EXPECT_EQ(d.added, (std::set<std::string, std::less<>>{"e"}));
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.find("d")->container, "d-new");
  EXPECT_FALSE(s.find("b"));
  // Said again, nothing changes.
  d = s.replace(TargetSources::engine_source, {spec("a", "a"), spec("c", "c"), spec("d", "d-new"), spec("e", "e")});
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_TRUE(d.removals.empty());
}

TEST(TargetSources, AChangeHiddenByAHigherPrioritySourceIsNoUpsert) {
  TargetSources s;
  s.replace(TargetSources::static_source, {spec("a", "static-a")});
  s.replace(TargetSources::engine_source, {spec("a", "engine-1")});
  auto d = s.replace(TargetSources::engine_source, {spec("a", "engine-2")});
  EXPECT_TRUE(d.upserts.empty());  // the merged view still names static-a
  EXPECT_TRUE(d.removals.empty());
  d = s.replace(TargetSources::engine_source, {spec("a", "engine-2", "", true)});
  ASSERT_EQ(d.upserts.size(), 1u);  // paused from any source does show
  EXPECT_TRUE(d.upserts[0].paused);
}
