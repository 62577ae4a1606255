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
  EXPECT_EQ(s.merged().size(), 1u);
}

TEST(TargetSources, ATargetInTwoSourcesStaysUntilItLeavesBoth) {
  TargetSources s;
  s.replace(TargetSources::static_source, {spec("a", "", "http://127.0.0.1:1/h")});
  s.replace(TargetSources::engine_source, {spec("a", "ctr-a")});
  EXPECT_EQ(s.merged().at("a").container, "ctr-a");
  EXPECT_EQ(s.merged().at("a").http, "http://127.0.0.1:1/h");
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
  EXPECT_EQ(s.merged().at("a").container, "static-name");
  EXPECT_TRUE(s.merged().at("a").paused);
}
