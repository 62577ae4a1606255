// The spool file format: one JSON event per line, a torn or corrupt line is
// skipped with a warning (never fatal) and the file is rewritten cleanly.
#include "store/spool.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace healthsweep::store {
using namespace healthsweep::store;
namespace {
using healthsweep::testing::read_file;
using healthsweep::testing::TempDir;

Event sample(int n) {
  Event e;
  e.event_id = "boot-" + std::to_string(n);
  e.target = "web-" + std::to_string(n);
  e.from_state = "healthy";
  e.to_state = "suspect";
  e.layer = "passive";
  e.reason = "heartbeat \"late\"\nby 3s \xc3\xa9";  // quotes, newline, UTF-8
  e.at = std::chrono::system_clock::time_point(std::chrono::microseconds(1764134400123456LL + n));
  e.detail_json = R"({"age_ms":3000})";
  e.restarts = n;
  e.quarantined = n % 2 == 1;
  e.removed = n == 3;
  for (int i = 0; i < n; ++i) e.recent_restarts.push_back(e.at - std::chrono::seconds(10 * (i + 1)));
  if (n >= 2) {  // a cluster instance's event: the fencing token travels with it
    e.instance = "hs-" + std::to_string(n);
    e.epoch = 1000 + n;
  }
  return e;
}

void expect_same(const Event& a, const Event& b) {
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.from_state, b.from_state);
  EXPECT_EQ(a.to_state, b.to_state);
  EXPECT_EQ(a.layer, b.layer);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.detail_json, b.detail_json);
  EXPECT_EQ(a.restarts, b.restarts);
  EXPECT_EQ(a.quarantined, b.quarantined);
  EXPECT_EQ(a.removed, b.removed);
  EXPECT_EQ(a.recent_restarts, b.recent_restarts);
  EXPECT_EQ(a.instance, b.instance);
  EXPECT_EQ(a.epoch, b.epoch);
}

TEST(StoreSpool, LineRoundTripsEveryFieldOnOneLine) {
  for (int n = 0; n < 4; ++n) {
    const auto line = to_spool_line(sample(n));
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    auto back = from_spool_line(line);
    ASSERT_TRUE(back) << line;
    expect_same(sample(n), *back);
  }
}

TEST(StoreSpool, LinesWrittenBeforeTheRestartHistoryExistedStillLoad) {
  auto line = to_spool_line(sample(0));
  const auto at = line.find(",\"recent_restarts_us\":[]");
  ASSERT_NE(at, std::string::npos) << line;
  line.erase(at, std::string_view(",\"recent_restarts_us\":[]").size());
  auto back = from_spool_line(line);
  ASSERT_TRUE(back) << line;
  EXPECT_TRUE(back->recent_restarts.empty());
  EXPECT_FALSE(from_spool_line(to_spool_line(sample(0)).replace(at, 25, ",\"recent_restarts_us\":[\"x\"]")))
      << "a history that is there must be well-formed";
}

TEST(StoreSpool, AFencingTokenIsWholeOrAbsent) {
  const auto plain = to_spool_line(sample(0));
  EXPECT_EQ(plain.find("instance"), std::string::npos) << "no cluster section: lines as before";
  const auto line = to_spool_line(sample(2));
  ASSERT_NE(line.find(R"("instance":"hs-2","epoch":1002)"), std::string::npos) << line;
  auto no_epoch = line;
  no_epoch.erase(no_epoch.find(R"(,"epoch":1002)"), std::string_view(R"(,"epoch":1002)").size());
  EXPECT_FALSE(from_spool_line(no_epoch)) << no_epoch;
  auto no_instance = line;
  no_instance.erase(no_instance.find(R"(,"instance":"hs-2")"), std::string_view(R"(,"instance":"hs-2")").size());
  EXPECT_FALSE(from_spool_line(no_instance)) << no_instance;
  auto empty_instance = line;
  empty_instance.replace(empty_instance.find("\"hs-2\""), 6, "\"\"");
  EXPECT_FALSE(from_spool_line(empty_instance)) << empty_instance;
}

TEST(StoreSpool, RejectsLinesThatAreNotEvents) {
  EXPECT_FALSE(from_spool_line(""));
  EXPECT_FALSE(from_spool_line("[1,2]"));
  EXPECT_FALSE(from_spool_line(R"({"event_id":"x"})"));
  auto line = to_spool_line(sample(1));
  EXPECT_FALSE(from_spool_line(line.substr(0, line.size() - 5)));
  auto no_id = sample(1);
  no_id.event_id.clear();
  EXPECT_FALSE(from_spool_line(to_spool_line(no_id)));
  // A time beyond what the clock holds (found by fuzz_spool): the line is
  // corrupt, not an event from 2^63 ns.
  auto far = to_spool_line(sample(1));
  const auto at = far.find("\"at_us\":") + 8;
  far.replace(at, far.find(',', at) - at, "9000000000000000000");
  EXPECT_FALSE(from_spool_line(far)) << far;
}

TEST(StoreSpool, TornLastLineIsSkippedWithAWarning) {
  const auto torn = to_spool_line(sample(2));
  const auto text = to_spool_line(sample(0)) + "\n" + to_spool_line(sample(1)) + "\n" +
                    torn.substr(0, torn.size() / 2);
  const auto c = parse_spool(text);
  ASSERT_EQ(c.events.size(), 2u);
  expect_same(c.events[0], sample(0));
  expect_same(c.events[1], sample(1));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("line 3"), std::string::npos) << c.warnings[0];
  EXPECT_TRUE(c.needs_rewrite);
}

TEST(StoreSpool, CorruptMiddleLineIsSkippedAndLaterLinesKept) {
  const auto text = to_spool_line(sample(0)) + "\n{garbage\n" + to_spool_line(sample(1)) + "\n";
  const auto c = parse_spool(text);
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[1].event_id, "boot-1");
  EXPECT_EQ(c.warnings.size(), 1u);
  EXPECT_TRUE(c.needs_rewrite);
}

TEST(StoreSpool, CleanFileNeedsNoRewrite) {
  const auto c = parse_spool(to_spool_line(sample(0)) + "\n\n" + to_spool_line(sample(1)) + "\n");
  EXPECT_EQ(c.events.size(), 2u);
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_FALSE(c.needs_rewrite);
  EXPECT_TRUE(parse_spool("").events.empty());
}

TEST(StoreSpool, AppendedEventsSurviveANewSpoolObject) {
  TempDir dir;
  {
    SpoolFile spool(dir.file("spool"));
    for (int n = 0; n < 3; ++n) spool.append(sample(n));
  }
  SpoolFile again(dir.file("spool"));
  const auto events = again.load();
  ASSERT_EQ(events.size(), 3u);
  for (int n = 0; n < 3; ++n) expect_same(events[n], sample(n));
}

TEST(StoreSpool, CrashTornFileIsRepairedSoTheNextAppendIsClean) {
  TempDir dir;
  SpoolFile spool(dir.file("spool"));
  spool.append(sample(0));
  {
    std::ofstream out(spool.path(), std::ios::app);
    out << to_spool_line(sample(1)).substr(0, 20);  // a crash mid-append
  }
  SpoolFile after_crash(dir.file("spool"));
  auto events = after_crash.load();
  ASSERT_EQ(events.size(), 1u);
  after_crash.append(sample(2));
  SpoolFile reread(dir.file("spool"));
  events = reread.load();
  ASSERT_EQ(events.size(), 2u);
  expect_same(events[0], sample(0));
  expect_same(events[1], sample(2));
  EXPECT_EQ(read_file(spool.path()),
            to_spool_line(sample(0)) + "\n" + to_spool_line(sample(2)) + "\n");
}

TEST(StoreSpool, ClearAndRewriteReplaceTheContents) {
  TempDir dir;
  SpoolFile spool(dir.file("spool"));
  for (int n = 0; n < 3; ++n) spool.append(sample(n));
  spool.rewrite({sample(2)});
  spool.append(sample(3));  // after a rewrite, appends go to the new file
  EXPECT_EQ(read_file(spool.path()),
            to_spool_line(sample(2)) + "\n" + to_spool_line(sample(3)) + "\n");
  spool.clear();
  EXPECT_EQ(read_file(spool.path()), "");
  spool.append(sample(1));
  EXPECT_EQ(read_file(spool.path()), to_spool_line(sample(1)) + "\n");
}

// The store's queue holds events packed (store/queued_event.hpp): every
// field comes back as it went in, and its spool line reads back as the
// event (an event without an id is no spool line: only a recorded event,
// which always has one, is ever written).
TEST(StoreSpool, APackedEventGivesBackEveryFieldAndTheSameLine) {
  Event empty;
  Event long_fields = sample(3);
  long_fields.detail_json = R"({"text":")" + std::string(100000, 'x') + "\"}";
  long_fields.reason = std::string(70000, 'r');  // past 65,535: offsets are not 16 bits
  for (const auto& e : {sample(0), sample(1), sample(2), sample(3), empty, long_fields}) {
    const QueuedEvent q(e);
    expect_same(q.event(), e);
    EXPECT_EQ(q.target(), e.target);
    EXPECT_EQ(q.reason(), e.reason);
    EXPECT_EQ(q.instance(), e.instance);
    if (e.event_id.empty()) continue;
    const auto back = from_spool_line(to_spool_line(q));
    ASSERT_TRUE(back) << to_spool_line(q).substr(0, 200);
    expect_same(*back, e);
  }
}

// A rewrite goes to the file a chunk (64 KiB) at a time; the file holds
// every line, in order, however many chunks it took.
TEST(StoreSpool, ARewriteOfManyChunksKeepsEveryEventInOrder) {
  TempDir dir;
  SpoolFile spool(dir.file("spool"));
  std::deque<QueuedEvent> queue;
  std::string expected;
  for (int n = 0; n < 2000; ++n) {  // about 600 KB of lines
    queue.emplace_back(sample(n % 4));
    expected += to_spool_line(sample(n % 4)) + "\n";
  }
  spool.rewrite(queue);
  EXPECT_EQ(read_file(spool.path()), expected);
  EXPECT_EQ(SpoolFile(dir.file("spool")).load().size(), 2000u);
}

TEST(StoreSpool, UncreatableDirectoryIsAnError) {
  TempDir dir;
  const auto file = dir.write("plain", "x");
  EXPECT_THROW(SpoolFile(file + "/sub"), std::runtime_error);
}

}  // namespace
}  // namespace healthsweep::store
