// healthsweepctl's argument parsing: commands, their ID, flags anywhere in
// both spellings, and every usage error (exit code 2) with its message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/options.hpp"

namespace healthsweep::ctl {
namespace {

using ::testing::HasSubstr;

Options ok(const std::vector<std::string>& args) {
  auto parsed = parse_args(args);
  EXPECT_TRUE(parsed.options) << parsed.error;
  return parsed.options.value_or(Options{});
}

std::string error_of(const std::vector<std::string>& args) {
  auto parsed = parse_args(args);
  EXPECT_FALSE(parsed.options) << "accepted";
  return parsed.error;
}

TEST(CtlOptions, CommandsAndTheirTargetId) {
  EXPECT_EQ(ok({"status"}).command, Command::status);
  EXPECT_EQ(ok({"targets"}).command, Command::targets);
  const auto t = ok({"target", "ws-1"});
  EXPECT_EQ(t.command, Command::target);
  EXPECT_EQ(t.id, "ws-1");
  EXPECT_EQ(ok({"reset", "ws-2"}).id, "ws-2");
  EXPECT_EQ(ok({"sweep", "ws-3"}).command, Command::sweep);
  EXPECT_TRUE(ok({"events", "--follow"}).follow);
  EXPECT_FALSE(ok({"events"}).follow);
}

TEST(CtlOptions, FlagsStandAnywhereWithOrWithoutEquals) {
  const auto o = ok({"--config", "/tmp/c.yaml", "targets", "--state=offline", "-o", "json",
                     "--layer", "passive", "--url=http://127.0.0.1:1", "--token-file", "/tmp/t",
                     "--timeout", "250ms"});
  EXPECT_EQ(o.command, Command::targets);
  EXPECT_EQ(o.config_path, "/tmp/c.yaml");
  EXPECT_EQ(o.state, "offline");
  EXPECT_EQ(o.layer, "passive");
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.url, "http://127.0.0.1:1");
  EXPECT_EQ(o.token_file, "/tmp/t");
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(ok({"targets", "--chunk-size", "0"}).chunk_size, 0);
  EXPECT_EQ(ok({"targets"}).chunk_size, 500);
}

TEST(CtlOptions, AfterDoubleDashAnIdMayStartWithADash) {
  const auto o = ok({"-o", "json", "target", "--", "-odd-id"});
  EXPECT_EQ(o.id, "-odd-id");
  EXPECT_TRUE(o.json);
  EXPECT_EQ(error_of({"target", "-odd-id"}), "unknown flag '-odd-id'");
}

TEST(CtlOptions, DefaultsWhenNoFlagIsGiven) {
  const auto o = ok({"status"});
  EXPECT_FALSE(o.config_path);
  EXPECT_FALSE(o.url);
  EXPECT_FALSE(o.token_file);
  EXPECT_FALSE(o.json);
  EXPECT_EQ(o.timeout, std::chrono::seconds(5));
  EXPECT_EQ(ok({"status", "--output", "table"}).json, false);
}

TEST(CtlOptions, HelpWinsOverEverythingElse) {
  EXPECT_EQ(ok({"--help"}).command, Command::help);
  EXPECT_EQ(ok({"targets", "-h"}).command, Command::help);
  EXPECT_EQ(ok({"help"}).command, Command::help);
  EXPECT_THAT(usage_text(), HasSubstr("exit codes: 0 ok, 1"));
}

TEST(CtlOptions, UsageErrorsSayWhatIsWrong) {
  EXPECT_THAT(error_of({}), HasSubstr("no command given"));
  EXPECT_EQ(error_of({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_EQ(error_of({"status", "--colour"}), "unknown flag '--colour'");
  EXPECT_EQ(error_of({"target"}), "target takes one target ID");
  EXPECT_EQ(error_of({"reset", "a", "b"}), "reset takes one target ID");
  EXPECT_EQ(error_of({"status", "extra"}), "status takes no argument (got 'extra')");
  EXPECT_EQ(error_of({"status", "--url"}), "--url needs a value");
  EXPECT_THAT(error_of({"targets", "--state", "dead"}), HasSubstr("'dead' is not one of unknown, online"));
  EXPECT_THAT(error_of({"targets", "--layer", "magic"}), HasSubstr("is not one of passive, proactive, reactive"));
  EXPECT_EQ(error_of({"status", "-o", "yaml"}), "--output: 'yaml' is not json or table");
  EXPECT_THAT(error_of({"status", "--timeout", "soon"}), HasSubstr("not a duration"));
  EXPECT_THAT(error_of({"targets", "--chunk-size", "-1"}), HasSubstr("is not a number from 0 to 10000"));
  EXPECT_THAT(error_of({"targets", "--chunk-size=5x"}), HasSubstr("is not a number from 0 to 10000"));
  EXPECT_EQ(error_of({"status", "--state", "online"}), "--state and --layer are for the targets command");
  EXPECT_EQ(error_of({"targets", "--follow"}), "--follow is for the events command");
}

}  // namespace
}  // namespace healthsweep::ctl
