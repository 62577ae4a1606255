// healthsweepctl's text output: column alignment, colour only on request,
// ages like "5m3s" and the daemon's RFC 3339 times.
#include <gtest/gtest.h>

#include <cstdlib>

#include "ctl/table.hpp"

namespace healthsweep::ctl {
namespace {

using namespace std::chrono_literals;

TEST(CtlTable, ColumnsAlignToTheWidestCellThreeSpacesApart) {
  Table t({"ID", "STATE", "SINCE"});
  t.add({{"ws-1"}, {"online", "32"}, {"5m3s"}});
  t.add({{"a-much-longer-id"}, {"offline", "31"}, {"2s"}});
  EXPECT_EQ(t.render(false),
            "ID                 STATE     SINCE\n"
            "ws-1               online    5m3s\n"
            "a-much-longer-id   offline   2s\n");
}

TEST(CtlTable, ColourWrapsTheCellButDoesNotCountInTheWidth) {
  Table t({"STATE", "X"});
  t.add({{"online", "32"}, {"1"}});
  t.add({{"paused"}, {"2"}});  // no colour for paused
  EXPECT_EQ(t.render(true),
            "STATE    X\n"
            "\x1b[32monline\x1b[0m   1\n"
            "paused   2\n");
}

TEST(CtlTable, AMissingCellIsEmpty) {
  Table t({"A", "B"});
  t.add({{"x"}});
  EXPECT_EQ(t.render(false), "A   B\nx   \n");
}

TEST(CtlAge, FormatsLikeKubectl) {
  EXPECT_EQ(format_age(0ms), "0s");
  EXPECT_EQ(format_age(-5s), "0s");
  EXPECT_EQ(format_age(850ms), "850ms");
  EXPECT_EQ(format_age(42s), "42s");
  EXPECT_EQ(format_age(60s), "1m");
  EXPECT_EQ(format_age(5min + 3s), "5m3s");
  EXPECT_EQ(format_age(3h + 7min + 59s), "3h7m");
  EXPECT_EQ(format_age(50h), "2d2h");
  EXPECT_EQ(format_age(24h), "1d");
}

TEST(CtlAge, ParsesTheDaemonsTimes) {
  const auto t = parse_rfc3339("2026-11-23T10:00:00.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count(),
            1795428000123);
  EXPECT_EQ(parse_rfc3339("2026-11-23T10:00:00Z"), *t - 123ms);
  EXPECT_EQ(parse_rfc3339("2026-11-23T10:00:00.5Z"), *t + 377ms);
  EXPECT_FALSE(parse_rfc3339("2026-11-23 10:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-23T10:00:00+01:00"));
  EXPECT_FALSE(parse_rfc3339("2026-11-23T10:00:00.Z"));
  EXPECT_FALSE(parse_rfc3339("-"));
  EXPECT_EQ(age_since("2026-11-23T10:00:00.123Z", *t + 5min + 3s), "5m3s");
  EXPECT_EQ(age_since("null", *t), "-");
}

TEST(CtlColour, StatesHaveTheirColours) {
  EXPECT_EQ(state_colour("online"), "32");
  EXPECT_EQ(state_colour("suspect"), "33");
  EXPECT_EQ(state_colour("offline"), "31");
  EXPECT_EQ(state_colour("quarantined"), "31");
  EXPECT_EQ(state_colour("paused"), "");
  EXPECT_EQ(paint("x", "31", false), "x");
  EXPECT_EQ(paint("x", "", true), "x");
}

TEST(CtlColour, NeverWithNoColourNorOnANonTerminal) {
  // A pipe is no terminal.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_FALSE(colour_wanted(fds[1]));
  ::close(fds[0]);
  ::close(fds[1]);
  ::setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(colour_wanted(STDOUT_FILENO));
  ::unsetenv("NO_COLOR");
}

}  // namespace
}  // namespace healthsweep::ctl
