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
// An id short enough to live inside its std::string (no heap buffer).
std::string short_id(int i) { return std::string("s").append(std::to_string(i)); }
// The ids of EveryContainerIsFoundByItsId...: even full, odd short.
std::string mixed_id(int i) { return i % 2 == 0 ? full_id(i) : short_id(i); }

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

// The index by id points at the entries themselves (issue 15, memory: no
// second copy of every id and name). It holds while the table grows by
// thousands (the entries never move), for short ids kept inside their
// string as for full ones, and while names move between containers.
TEST(ContainerTable, EveryContainerIsFoundByItsIdWhileTheTableGrowsAndNamesMove) {
  ContainerTable t;
  constexpr int n = 5000;
  t.begin_list();
  for (int i = 0; i < n; ++i) {
    const std::string id = mixed_id(i);
    t.note("c-" + std::to_string(i), id, true, running, "t-" + std::to_string(i));
  }
  t.end_list();
  const auto* first = t.find("c-0");
  for (int i = 0; i < n; ++i) {
    const std::string id = mixed_id(i);
    const auto* e = t.find(id);
    ASSERT_NE(e, nullptr) << id;
    EXPECT_EQ(e, t.find("c-" + std::to_string(i)));
  }
  // The next list swaps the names of containers 1 and 2 (each keeps its id)
  // and drops container 3: the ids follow their containers.
  t.begin_list();
  t.note("c-1", "s2", true, running, "t-2");
  t.note("c-2", "s1", true, running, "t-1");
  for (int i = 0; i < n; ++i) {
    if (i == 1 || i == 2 || i == 3) continue;
    t.note("c-" + std::to_string(i), mixed_id(i), true, running,
           "t-" + std::to_string(i));
  }
  EXPECT_EQ(t.end_list(), 1u);
  EXPECT_EQ(t.find("c-0"), first) << "an entry never moves";
  ASSERT_NE(t.find("s1"), nullptr);
  EXPECT_EQ(t.find("s1"), t.find("c-2"));
  EXPECT_EQ(t.find("s1")->target, "t-1");
  EXPECT_EQ(t.find("s2"), t.find("c-1"));
  EXPECT_EQ(t.find("s3"), nullptr) << "the dropped container's id goes with it";
  EXPECT_EQ(t.size(), static_cast<std::size_t>(n - 1));
}

}  // namespace
}  // namespace healthsweep::sweeps::proactive
