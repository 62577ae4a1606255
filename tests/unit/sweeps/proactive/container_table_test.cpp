// The proactive layer's container table: one entry per container, kept
// across lists and updated in place, found by name or by full id.
#include "sweeps/proactive/container_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace healthsweep::sweeps::proactive {
namespace {

using decide::Verdict;

const Finding running{Verdict::alive, true, "container running for a while"};
const Finding exited{Verdict::dead, true, "container exited (code 137) some time ago"};

std::string full_id(int i) { return std::string(60, 'a') + std::to_string(1000 + i); }

TEST(ContainerTable, FindsAContainerByNameOrByFullId) {
  ContainerTable t;
  t.begin_list();
  EXPECT_TRUE(t.note("web", full_id(1), true, running, "target-web"));
  t.end_list();
  for (const std::string& key : {std::string("web"), full_id(1)}) {
    const auto* e = t.find(key);
    ASSERT_NE(e, nullptr) << key;
    EXPECT_EQ(e->id, full_id(1));
    EXPECT_EQ(e->target, "target-web");
    EXPECT_TRUE(e->running);
    EXPECT_EQ(e->finding.reason, running.reason);
  }
  EXPECT_EQ(t.find("db"), nullptr);
  EXPECT_EQ(t.find(""), nullptr);
}

TEST(ContainerTable, AContainerWithoutANameIsKeptUnderItsId) {
  ContainerTable t;
  t.begin_list();
  t.note("", full_id(1), false, exited, "");
  t.end_list();
  ASSERT_NE(t.find(full_id(1)), nullptr);
  EXPECT_FALSE(t.find(full_id(1))->running);
}

TEST(ContainerTable, TheNextListUpdatesInPlaceAndDropsWhatItDoesNotName) {
  ContainerTable t;
  t.begin_list();
  t.note("web", full_id(1), true, running, "target-web");
  t.note("db", full_id(2), true, running, "target-db");
  t.end_list();

  t.begin_list();
  t.note("web", full_id(1), false, exited, "target-web");
  // Before the list ends, what it has not named yet is still there: an event
  // read between two turns of the sweep still finds its target.
  ASSERT_NE(t.target_of("db", ""), nullptr);
  EXPECT_TRUE(t.in_list("web"));
  EXPECT_FALSE(t.in_list("db"));
  EXPECT_EQ(t.end_list(), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find("db"), nullptr);
  EXPECT_EQ(t.find(full_id(2)), nullptr) << "its id goes with it";
  ASSERT_NE(t.find("web"), nullptr);
  EXPECT_FALSE(t.find("web")->running);
  EXPECT_EQ(t.find("web")->finding.verdict, Verdict::dead);
  EXPECT_EQ(t.find("web")->finding.reason, exited.reason);
}

TEST(ContainerTable, TheFirstNoteOfAContainerInAListWins) {
  ContainerTable t;
  t.begin_list();
  EXPECT_TRUE(t.note("web", full_id(1), true, running, "target-web"));
  EXPECT_FALSE(t.note("web", full_id(1), true, running, ""));  // the unfiltered list, no label kept
  t.end_list();
  EXPECT_EQ(t.find("web")->target, "target-web");
}

TEST(ContainerTable, ANameTakenByANewContainerAnswersWithTheNewId) {
  ContainerTable t;
  t.begin_list();
  t.note("web", full_id(1), true, running, "target-web");
  t.end_list();
  t.begin_list();
  t.note("web", full_id(2), true, running, "target-web");  // recreated under the same name
  t.end_list();
  EXPECT_EQ(t.find("web")->id, full_id(2));
  EXPECT_EQ(t.find(full_id(1)), nullptr);
  ASSERT_NE(t.find(full_id(2)), nullptr);
}

TEST(ContainerTable, ARenamedContainerIsFoundByItsIdUnderTheNewName) {
  ContainerTable t;
  t.begin_list();
  t.note("old-name", full_id(1), true, running, "a");
  t.end_list();
  t.begin_list();
  t.note("new-name", full_id(1), true, running, "a");
  EXPECT_EQ(t.end_list(), 1u);  // old-name
  ASSERT_NE(t.find(full_id(1)), nullptr) << "dropping the old name keeps the id's new one";
  EXPECT_EQ(t.find(full_id(1)), t.find("new-name"));
}

TEST(ContainerTable, TargetOfTriesTheNameThenTheId) {
  ContainerTable t;
  t.begin_list();
  t.note("plain", full_id(1), true, running, "");  // no target
  t.note("web", full_id(2), true, running, "target-web");
  t.end_list();
  EXPECT_EQ(t.target_of("plain", full_id(1)), nullptr);
  ASSERT_NE(t.target_of("", full_id(2)), nullptr);
  EXPECT_EQ(*t.target_of("", full_id(2)), "target-web");
  ASSERT_NE(t.target_of("unknown", full_id(2)), nullptr);
  EXPECT_EQ(*t.target_of("web", "unknown"), "target-web");
}

// The point of the table (issue 15, memory): a list that says what the last
// one said leaves every entry where it was, its strings in the buffers they
// had (nothing freed and allocated again), however many containers it names.
TEST(ContainerTable, AnUnchangedListKeepsEveryEntryAndItsBuffersInPlace) {
  ContainerTable t;
  constexpr int n = 2000;
  const auto note_all = [&] {
    t.begin_list();
    for (int i = 0; i < n; ++i)
      t.note("container-" + std::to_string(i), full_id(i), i % 2 == 0, i % 2 == 0 ? running : exited,
             "a-target-with-a-long-name-" + std::to_string(i));
    return t.end_list();
  };
  note_all();
  struct Where {
    const ContainerTable::Entry* entry;
    const char *id, *target, *reason;
  };
  std::vector<Where> was;
  for (int i = 0; i < n; ++i) {
    const auto* e = t.find("container-" + std::to_string(i));
    ASSERT_NE(e, nullptr);
    was.push_back({e, e->id.data(), e->target.data(), e->finding.reason.data()});
  }
  EXPECT_EQ(note_all(), 0u);
  for (int i = 0; i < n; ++i) {
    const auto* e = t.find("container-" + std::to_string(i));
    ASSERT_EQ(e, was[i].entry) << i;
    EXPECT_EQ(e->id.data(), was[i].id) << i;
    EXPECT_EQ(e->target.data(), was[i].target) << i;
    EXPECT_EQ(e->finding.reason.data(), was[i].reason) << i;
  }
  EXPECT_EQ(t.size(), static_cast<std::size_t>(n));
}

}  // namespace
}  // namespace healthsweep::sweeps::proactive
