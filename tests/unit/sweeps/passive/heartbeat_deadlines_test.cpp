// The passive layer's deadline bookkeeping, with fake time.
#include "sweeps/passive/heartbeat_deadlines.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

using namespace std::chrono_literals;
using TP = HeartbeatDeadlines::TimePoint;
const TP t0 = TP{} + 1000s;
const HeartbeatDeadlines::WallTime wall0 = std::chrono::system_clock::time_point{} + 1000s;

struct Tracker {
  HeartbeatDeadlines d{60s};
  // PTTL answered instantly at `now`.
  HeartbeatDeadlines::Observation pttl(const std::string& id, long long ms, TP now) {
    return d.observe_pttl(id, ms, now, wall0 + (now - t0), now, wall0 + (now - t0));
  }
};

TEST(HeartbeatDeadlines, NewTargetIsUnknownAndDueWhenItsGraceEnds) {
  Tracker t;
  EXPECT_EQ(t.d.set_targets({"a", "b"}, t0), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.d.state("a"), HeartbeatState::unknown);
  EXPECT_EQ(t.d.next_wake(), t0 + 60s);
  EXPECT_TRUE(t.d.take_due(t0 + 59s, 5s).empty());
  auto due = t.d.take_due(t0 + 60s, 5s);
  std::sort(due.begin(), due.end());
  EXPECT_EQ(due, (std::vector<std::string>{"a", "b"}));
}

TEST(HeartbeatDeadlines, KeyPresentMakesTargetAliveOnceAndArmsItsDeadline) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  const auto first = t.pttl("a", 30000, t0 + 1s);
  ASSERT_TRUE(first.verdict);
  EXPECT_EQ(first.verdict->verdict, Verdict::alive);
  EXPECT_EQ(first.verdict->reason, "heartbeat present");
  // Deadline: the ask's time + 30 s; the wake: the first moment Redis can
  // call the key gone (asked at a whole wall millisecond: 1 ms later).
  EXPECT_EQ(t.d.next_wake(), t0 + 31s + 1ms);
  EXPECT_EQ(t.d.key_deadline("a"), t0 + 31s);
  // A refresh moves the deadline but is no news.
  EXPECT_FALSE(t.pttl("a", 30000, t0 + 10s).verdict);
  EXPECT_EQ(t.d.next_wake(), t0 + 40s + 1ms);
  EXPECT_EQ(t.d.last_heartbeat("a"), wall0 + 10s);
}

TEST(HeartbeatDeadlines, DeadlineFromSendTimeIsEarlyNotLate) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  // Sent at t0, answered 50 ms later: the deadline counts from the sending.
  t.d.observe_pttl("a", 1000, t0, wall0, t0 + 50ms, wall0 + 50ms);
  EXPECT_EQ(t.d.key_deadline("a"), t0 + 1000ms);
}

TEST(HeartbeatDeadlines, ExpiredKeyIsDeadObservedAtItsDeadline) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 1000, t0);
  EXPECT_TRUE(t.d.take_due(t0 + 1000ms, 5s).empty()) << "Redis keeps the key through its last millisecond";
  EXPECT_EQ(t.d.take_due(t0 + 1001ms, 5s), std::vector<std::string>{"a"});
  const auto obs = t.pttl("a", -2, t0 + 1003ms);
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->verdict, Verdict::dead);
  EXPECT_EQ(obs.verdict->reason, "heartbeat expired");
  EXPECT_EQ(obs.verdict->observed_at, t0 + 1000ms);
  EXPECT_EQ(t.d.state("a"), HeartbeatState::dead);
  EXPECT_FALSE(t.d.next_wake());
  EXPECT_FALSE(t.pttl("a", -2, t0 + 2s).verdict) << "dead once, not on every look";
}

TEST(HeartbeatDeadlines, PttlZeroRearmsForOneMillisecond) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 500, t0);
  t.d.take_due(t0 + 500ms, 5s);
  EXPECT_FALSE(t.pttl("a", 0, t0 + 500ms).verdict);
  EXPECT_EQ(t.d.state("a"), HeartbeatState::alive);
  EXPECT_EQ(t.d.next_wake(), t0 + 501ms);
}

// Redis calls a key gone once its whole-millisecond clock has passed the
// key's expiry: with 0 ms left, that is the next whole millisecond of the
// wall clock after the ask, not a full millisecond after the answer.
TEST(HeartbeatDeadlines, PttlZeroWakesAtTheNextWholeMillisecondOfTheWallClock) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 500, t0);
  t.d.take_due(t0 + 501ms, 5s);
  // Asked 0.7 ms into a wall millisecond, answered 0.1 ms later.
  const auto sent = t0 + 501ms;
  const auto wall = wall0 + 501ms + 700us;
  EXPECT_FALSE(t.d.observe_pttl("a", 0, sent, wall, sent + 100us, wall + 100us).verdict);
  EXPECT_EQ(t.d.next_wake(), sent + 300us);
  // Answered after that millisecond ended: due at once.
  t.d.take_due(sent + 300us, 5s);
  EXPECT_FALSE(t.d.observe_pttl("a", 0, sent + 300us, wall + 300us, sent + 1500us, wall + 1500us).verdict);
  EXPECT_EQ(t.d.take_due(sent + 1500us, 5s), std::vector<std::string>{"a"});
}

// The wake is the soonest the key can be gone (ttl + 1 ms from the start of
// the ask's wall millisecond); the deadline kept for the verdict stays the
// early one (sent_at + ttl), so a key found gone at the wake is "expired".
TEST(HeartbeatDeadlines, WakeIsTheFirstMomentRedisCanCallTheKeyGone) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  const auto wall = wall0 + 250us;  // 0.25 ms into a wall millisecond
  t.d.observe_pttl("a", 1000, t0, wall, t0 + 2ms, wall + 2ms);
  EXPECT_EQ(t.d.key_deadline("a"), t0 + 1000ms);
  EXPECT_EQ(t.d.next_wake(), t0 + 1001ms - 250us);
  EXPECT_EQ(t.d.take_due(t0 + 1001ms - 250us, 5s), std::vector<std::string>{"a"});
  const auto obs = t.pttl("a", -2, t0 + 1001ms);
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->reason, "heartbeat expired");
  EXPECT_EQ(obs.verdict->observed_at, t0 + 1000ms);
}

TEST(HeartbeatDeadlines, PositivePttlAtTheDeadlineMeansRefreshed) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 500, t0);
  t.d.take_due(t0 + 500ms, 5s);
  EXPECT_FALSE(t.pttl("a", 2000, t0 + 500ms).verdict);
  EXPECT_EQ(t.d.next_wake(), t0 + 2501ms);
}

TEST(HeartbeatDeadlines, DeletedKeyIsDeadAtOnceObservedNow) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 60000, t0);
  const auto obs = t.pttl("a", -2, t0 + 5s);
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->reason, "heartbeat key deleted");
  EXPECT_EQ(obs.verdict->observed_at, t0 + 5s);
}

TEST(HeartbeatDeadlines, KeyWithoutTtlIsAliveWithoutDeadlineAndNotedOnce) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  const auto first = t.pttl("a", -1, t0);
  ASSERT_TRUE(first.verdict);
  EXPECT_EQ(first.verdict->verdict, Verdict::alive);
  EXPECT_TRUE(first.key_without_ttl);
  EXPECT_FALSE(t.pttl("a", -1, t0 + 1s).key_without_ttl);
  EXPECT_FALSE(t.d.next_wake());
  EXPECT_FALSE(t.d.key_deadline("a"));
}

TEST(HeartbeatDeadlines, NeverHeartBeatingTargetIsDeadOnlyAfterTheGrace) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  EXPECT_FALSE(t.pttl("a", -2, t0 + 30s).verdict);
  EXPECT_EQ(t.d.state("a"), HeartbeatState::unknown);
  EXPECT_EQ(t.d.next_wake(), t0 + 60s);
  const auto obs = t.pttl("a", -2, t0 + 60s + 2ms);
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->reason, "no heartbeat within grace");
  EXPECT_EQ(obs.verdict->observed_at, t0 + 60s);
}

TEST(HeartbeatDeadlines, TargetAppearingLaterGetsItsOwnGrace) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.d.set_targets({"a", "b"}, t0 + 50s);
  EXPECT_TRUE(t.pttl("a", -2, t0 + 61s).verdict);
  EXPECT_FALSE(t.pttl("b", -2, t0 + 61s).verdict);
  EXPECT_TRUE(t.pttl("b", -2, t0 + 110s).verdict);
}

TEST(HeartbeatDeadlines, GraceGrowsToTheLargestTtlSeen) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 300000, t0);
  EXPECT_EQ(t.d.grace(), 300000ms);
  t.d.set_targets({"a", "b"}, t0);
  EXPECT_FALSE(t.pttl("b", -2, t0 + 200s).verdict);
}

TEST(HeartbeatDeadlines, KeyReappearingAfterDeathIsAliveAgain) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 1000, t0);
  ASSERT_TRUE(t.pttl("a", -2, t0 + 2s).verdict);
  const auto obs = t.pttl("a", 60000, t0 + 3s);
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->verdict, Verdict::alive);
  EXPECT_EQ(obs.verdict->reason, "heartbeat resumed");
}

TEST(HeartbeatDeadlines, DueTargetsAreLeasedNotLost) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 1000, t0);
  EXPECT_EQ(t.d.take_due(t0 + 1001ms, 5s).size(), 1u);
  EXPECT_TRUE(t.d.take_due(t0 + 2s, 5s).empty()) << "in flight";
  EXPECT_EQ(t.d.take_due(t0 + 6001ms, 5s).size(), 1u) << "no answer came: due again";
}

TEST(HeartbeatDeadlines, TakeDueHonoursTheBatchLimit) {
  Tracker t;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(std::string("t").append(std::to_string(i)));
  t.d.set_targets(ids, t0);
  EXPECT_EQ(t.d.take_due(t0 + 60s, 5s, 4).size(), 4u);
  EXPECT_EQ(t.d.take_due(t0 + 60s, 5s, 100).size(), 6u);
}

TEST(HeartbeatDeadlines, RestartGraceTurnsMissingKeysIntoNoEvidence) {
  Tracker t;
  t.d.set_targets({"a", "b", "c"}, t0);
  for (const auto* id : {"a", "b", "c"}) t.pttl(id, 10000, t0);
  ASSERT_TRUE(t.pttl("b", -2, t0 + 11s).verdict);  // b really lapsed before the restart
  t.d.restart_grace(t0 + 20s);
  EXPECT_FALSE(t.pttl("a", -2, t0 + 21s).verdict) << "the server lost its keys; a is not dead yet";
  EXPECT_FALSE(t.pttl("c", -2, t0 + 21s).verdict);
  EXPECT_EQ(t.d.state("a"), HeartbeatState::alive);
  EXPECT_EQ(t.d.next_wake(), t0 + 80s);
  EXPECT_FALSE(t.pttl("c", 5000, t0 + 22s).verdict) << "heart-beating again: no news";
  const auto late = t.pttl("a", -2, t0 + 81s);
  ASSERT_TRUE(late.verdict);
  EXPECT_EQ(late.verdict->observed_at, t0 + 80s);
  // c's key survived the restart: its lapse is an ordinary expiry again.
  const auto c = t.pttl("c", -2, t0 + 28s);
  ASSERT_TRUE(c.verdict);
  EXPECT_EQ(c.verdict->observed_at, t0 + 27s);
}

TEST(HeartbeatDeadlines, HeartBeatingTargetNeedsNoGraceToBeDeclaredDead) {
  Tracker t;
  t.d.set_targets({"a"}, t0);
  t.pttl("a", 1000, t0);
  const auto obs = t.pttl("a", -2, t0 + 2s);  // well inside the 60 s grace of a new target
  ASSERT_TRUE(obs.verdict);
  EXPECT_EQ(obs.verdict->observed_at, t0 + 1s);
}

TEST(HeartbeatDeadlines, UnseenAliveListsTargetsTheReconciliationMissed) {
  Tracker t;
  t.d.set_targets({"a", "b", "c"}, t0);
  t.pttl("a", 10000, t0);
  t.pttl("b", 10000, t0);
  t.d.begin_reconcile();
  t.pttl("a", 9000, t0 + 1s);
  EXPECT_EQ(t.d.unseen_alive(), std::vector<std::string>{"b"}) << "c is unknown, not alive";
}

TEST(HeartbeatDeadlines, RemovedTargetsAreForgottenAndIgnored) {
  Tracker t;
  t.d.set_targets({"a", "b"}, t0);
  t.pttl("a", 1000, t0);
  t.d.set_targets({"b"}, t0 + 1s);
  EXPECT_FALSE(t.d.watched("a"));
  EXPECT_EQ(t.d.size(), 1u);
  EXPECT_FALSE(t.pttl("a", -2, t0 + 2s).verdict);
  EXPECT_EQ(t.d.next_wake(), t0 + 60s);
}

// The index holds slots hashed through their entry's id: across rounds of
// targets removed (their slots freed) and others added (taking those
// slots), with ids long enough to live on the heap, every id is found with
// its own state and none of the removed ones is.
TEST(HeartbeatDeadlines, IndexFollowsSlotsFreedAndTakenAgain) {
  Tracker t;
  const auto id_of = [](int n) { return "workspace-heartbeat-" + std::to_string(n); };
  std::set<std::string> watched;
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> ids;
    for (const auto& id : watched)
      if (rng() % 3 != 0) ids.push_back(id);  // about a third removed
    for (int k = 0; k < 300; ++k) ids.push_back(id_of(round * 1000 + k));
    std::shuffle(ids.begin(), ids.end(), rng);
    t.d.set_targets(ids, t0);
    const std::set<std::string> now_watched(ids.begin(), ids.end());
    for (const auto& id : watched) {
      if (!now_watched.contains(id)) {
        EXPECT_FALSE(t.d.watched(id)) << id;
      }
    }
    watched = now_watched;
    // Each round makes its own new targets alive: the others keep their state.
    for (int k = 0; k < 300; k += 2) t.pttl(id_of(round * 1000 + k), 30'000, t0);
    ASSERT_EQ(t.d.size(), watched.size());
    const auto listed = t.d.ids();
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), watched);
    for (const auto& id : watched) {
      const int n = std::stoi(id.substr(id.rfind('-') + 1));
      EXPECT_EQ(t.d.state(id), n % 2 == 0 ? HeartbeatState::alive : HeartbeatState::unknown) << id;
    }
  }
  EXPECT_FALSE(t.d.state(id_of(999'999)));
}

TEST(HeartbeatDeadlines, AFleetGrownByThousandsLeavesEveryEntryWhereItWas) {
  // Issue 15: growing the slots must not move the entries to a larger array
  // (a vector did: 11,000 discovered containers at 100,000 targets held the
  // old and the new array at once). An entry's id stays at its address.
  Tracker t;
  std::vector<std::string> ids;
  for (int n = 0; n < 3000; ++n) ids.push_back(std::string("target-").append(std::to_string(n)));
  t.d.set_targets(ids, t0);
  std::map<std::string, const std::string*> where;
  t.d.for_slots(0, t.d.slot_end(), [&](const std::string& id, HeartbeatState) { where[id] = &id; });
  ASSERT_EQ(where.size(), 3000u);
  for (int n = 3000; n < 10000; ++n) ids.push_back(std::string("target-").append(std::to_string(n)));
  EXPECT_EQ(t.d.set_targets(ids, t0 + 1s).size(), 7000u);
  std::size_t seen = 0, moved = 0;
  t.d.for_slots(0, t.d.slot_end(), [&](const std::string& id, HeartbeatState) {
    const auto it = where.find(id);
    if (it == where.end()) return;
    ++seen;
    if (it->second != &id) ++moved;
  });
  EXPECT_EQ(seen, 3000u);
  EXPECT_EQ(moved, 0u);
  EXPECT_EQ(t.d.size(), 10000u);
  EXPECT_EQ(t.d.state("target-9999"), HeartbeatState::unknown);
}

TEST(HeartbeatDeadlines, AChangeOfTargetsEndsWhereTheWholeNewSetWould) {
  // change_targets(added, removed) must leave what set_targets(whole) does:
  // the same ids watched, the ones kept in their state, the new ones
  // unknown with a full grace from the change.
  Tracker change, whole;
  // std::string("t").append(...), not "t" + ...: g++ 12 warns (-Wrestrict) on the latter.
  const auto id_of = [](int n) { return std::string("t").append(std::to_string(n)); };
  std::vector<std::string> ids;
  for (int n = 0; n < 50; ++n) ids.push_back(id_of(n));
  change.d.set_targets(ids, t0);
  whole.d.set_targets(ids, t0);
  for (int n = 0; n < 50; n += 2) {
    change.pttl(id_of(n), 30'000, t0);
    whole.pttl(id_of(n), 30'000, t0);
  }
  const std::vector<std::string> removed{"t0", "t1", "t7", "not-watched"};
  const std::vector<std::string> added{"n1", "n2", "t4"};  // t4 is already watched
  std::vector<std::string> next;
  for (const auto& id : ids)
    if (std::find(removed.begin(), removed.end(), id) == removed.end()) next.push_back(id);
  next.push_back("n1");
  next.push_back("n2");
  EXPECT_EQ(change.d.change_targets(added, removed, t0 + 5s), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(whole.d.set_targets(next, t0 + 5s), (std::vector<std::string>{"n1", "n2"}));
  auto a = change.d.ids(), b = whole.d.ids();
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  for (const auto& id : b) EXPECT_EQ(change.d.state(id), whole.d.state(id)) << id;
  EXPECT_EQ(change.d.state("t4"), HeartbeatState::alive);
  EXPECT_FALSE(change.d.watched("t0"));
  EXPECT_EQ(change.d.state("n1"), HeartbeatState::unknown);
  EXPECT_EQ(change.d.next_wake(), whole.d.next_wake());
  // Due at the same moments: the new ones when their grace ends, counted
  // from the change (not before), the others as they were.
  for (const auto at : {t0 + 59s, t0 + 64s, t0 + 65s}) {
    auto due_change = change.d.take_due(at, 5s), due_whole = whole.d.take_due(at, 5s);
    std::sort(due_change.begin(), due_change.end());
    std::sort(due_whole.begin(), due_whole.end());
    EXPECT_EQ(due_change, due_whole);
    const bool new_due = std::find(due_change.begin(), due_change.end(), "n1") != due_change.end();
    EXPECT_EQ(new_due, at == t0 + 65s);
  }
}

// The heap against a brute-force model under random operations.
TEST(HeartbeatDeadlines, HeapAgreesWithBruteForceUnderRandomOperations) {
  HeartbeatDeadlines d{60s};
  std::mt19937 rng(42);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(std::string("t").append(std::to_string(i)));
  d.set_targets(ids, t0);
  std::map<std::string, TP> model;  // id -> wake (absent: not scheduled)
  std::map<std::string, TP> grace;  // id -> end of the grace (absent: none)
  for (const auto& id : ids) model[id] = grace[id] = t0 + 60s;
  TP now = t0;
  for (int step = 0; step < 20000; ++step) {
    const auto& id = ids[rng() % ids.size()];
    now += std::chrono::milliseconds(rng() % 50);
    const int op = static_cast<int>(rng() % 5);
    if (op == 0) {
      const long long ms = rng() % 5000;
      d.observe_pttl(id, ms, now, wall0, now, wall0);
      model[id] = now + std::chrono::milliseconds(ms) + 1ms;  // wall0 is a whole millisecond
      grace.erase(id);
    } else if (op == 1) {
      d.observe_pttl(id, -1, now, wall0, now, wall0);
      model.erase(id);
      grace.erase(id);
    } else if (op == 2) {
      const auto before = d.state(id);
      d.observe_pttl(id, -2, now, wall0, now, wall0);
      if (before != HeartbeatState::dead && grace.count(id) && now < grace[id]) {
        model[id] = grace[id];
        ASSERT_NE(d.state(id), HeartbeatState::dead);
      } else {
        model.erase(id);
        ASSERT_EQ(d.state(id), HeartbeatState::dead);
      }
    } else if (op == 3 && step % 500 == 0) {
      d.restart_grace(now);
      for (const auto& i : ids) {
        if (d.state(i) == HeartbeatState::dead) continue;
        grace[i] = std::max(grace.count(i) ? grace[i] : TP::min(), now + 60s);
        if (d.state(i) == HeartbeatState::unknown) model[i] = grace[i];
      }
    } else {
      for (const auto& due : d.take_due(now, 5s)) {
        ASSERT_TRUE(model.count(due));
        ASSERT_LE(model[due], now);
        model[due] = now + 5s;
      }
      for (const auto& [mid, wake] : model) ASSERT_GT(wake, now) << mid << " was due but not handed out";
    }
    TP expected = TP::max();
    for (const auto& [mid, wake] : model) expected = std::min(expected, wake);
    if (model.empty()) ASSERT_FALSE(d.next_wake());
    else ASSERT_EQ(d.next_wake(), expected) << "step " << step;
  }
}

}  // namespace
}  // namespace healthsweep::sweeps
