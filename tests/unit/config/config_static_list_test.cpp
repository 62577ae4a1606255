// targets.static read a chunk at a time (config/static_list.hpp): the event
// pass finds each item's line, the chunked load gives the same targets and the
// same file:line:col errors as the one-tree load, and every shape the cut
// could read differently falls back to the one tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.hpp"
#include "config/reader.hpp"
#include "config/static_list.hpp"
#include "tests/unit/config/config_test_env.hpp"

namespace healthsweep::config {
namespace {

using ::testing::ElementsAre;

class StaticList : public WithoutPgDsnEnv {};

std::string targets_yaml(std::size_t count, const std::string& indent = "    ") {
  std::string yaml = "targets:\n  static:\n";
  for (std::size_t i = 0; i < count; ++i) yaml += indent + "- id: t-" + std::to_string(i) + "\n";
  return yaml;
}

std::vector<std::string> lines_of(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.errors) out.push_back(e.to_string());
  return out;
}

using TargetTuple = std::tuple<std::string, std::string, std::string, std::optional<Endpoint>, bool>;
std::vector<TargetTuple> targets_of(const LoadResult& result) {
  std::vector<TargetTuple> out;
  if (!result.config) return out;
  for (const auto& t : result.config->targets.static_targets) out.emplace_back(t.id, t.container, t.http, t.tcp, t.paused);
  return out;
}

// The chunked load and the one-tree load agree on everything the loader returns.
void expect_same_as_one_tree(const std::string& yaml) {
  const LoadResult chunked = load_string(yaml, "cfg.yaml");
  const LoadResult whole = detail::load_string_as_one_tree(yaml, "cfg.yaml");
  EXPECT_EQ(lines_of(chunked), lines_of(whole)) << yaml.substr(0, 400);
  EXPECT_EQ(targets_of(chunked), targets_of(whole)) << yaml.substr(0, 400);
  EXPECT_EQ(chunked.config.has_value(), whole.config.has_value());
}

TEST_F(StaticList, TheOutlineFindsEachItemsLineAndTheListsEnd) {
  const std::string yaml =
      "listen: \"127.0.0.1:0\"\n"        // line 0
      "targets:\n"                       // 1
      "  static:\n"                      // 2
      "    # the first one\n"            // 3
      "    - id: a\n"                    // 4
      "      container: box-a\n"         // 5
      "    -\n"                          // 6
      "      id: b\n"                    // 7
      "    - {id: c, paused: true}\n"    // 8
      "\n"                               // 9
      "  engine_label: null\n";          // 10
  const detail::Outline outline = detail::outline_of(yaml);
  ASSERT_TRUE(outline.static_list.has_value());
  EXPECT_THAT(outline.static_list->item_lines, ElementsAre(4, 6, 8));
  const auto& starts = outline.static_list->item_starts;
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(yaml.substr(starts[0], 11), "    - id: a");
  EXPECT_EQ(yaml.substr(starts[1], 6), "    -\n");
  EXPECT_EQ(yaml.substr(starts[2], 7), "    - {");
  EXPECT_EQ(yaml.substr(outline.static_list->end, 14), "  engine_label");  // the next node's line
  // What is left keeps every other line where it was, and reads the list as null.
  const std::string rest = detail::without_static_list(yaml, *outline.static_list);
  EXPECT_EQ(rest.size(), yaml.size());
  EXPECT_EQ(std::count(rest.begin(), rest.end(), '\n'), std::count(yaml.begin(), yaml.end(), '\n'));
  EXPECT_TRUE(YAML::Load(rest)["targets"]["static"].IsNull());
  expect_same_as_one_tree(yaml);
  const LoadResult loaded = load_string(yaml, "cfg.yaml");
  ASSERT_TRUE(loaded.config) << lines_of(loaded).front();
  ASSERT_EQ(loaded.config->targets.static_targets.size(), 3u);
  EXPECT_EQ(loaded.config->targets.static_targets[0].container, "box-a");
  EXPECT_TRUE(loaded.config->targets.static_targets[2].paused);
}

TEST_F(StaticList, AListAtTheEndOfTheFileRunsToTheEnd) {
  const std::string yaml = targets_yaml(3, "  ") + "# trailing comment";
  const detail::Outline outline = detail::outline_of(yaml);
  ASSERT_TRUE(outline.static_list.has_value());
  EXPECT_EQ(outline.static_list->end, yaml.size());
  EXPECT_THAT(outline.static_list->item_lines, ElementsAre(2, 3, 4));
  expect_same_as_one_tree(yaml);
  // A tag before the next key stays: yaml-cpp's mark of a tagged node is its tag.
  const std::string tagged = targets_yaml(2) + "!!str redis: {}\n";
  expect_same_as_one_tree(tagged);
  const std::string ended = targets_yaml(2) + "...\n";  // an explicit end of the document
  ASSERT_TRUE(detail::outline_of(ended).static_list.has_value());
  expect_same_as_one_tree(ended);
  EXPECT_TRUE(load_string(ended, "cfg.yaml").config.has_value());
}

// Errors deep in a long list, across chunk boundaries, keep the file's line
// numbers, including the line a duplicate id was first seen on.
TEST_F(StaticList, ErrorsInLaterChunksCarryTheFilesLines) {
  const std::size_t count = 3 * detail::static_chunk_items + 7;
  std::string yaml = "listen: \"127.0.0.1:0\"\ntargets:\n  static:\n";
  for (std::size_t i = 0; i < count; ++i) {
    if (i == 1500) {
      yaml += "    - id: \"bad id\"\n";
    } else if (i == 2100) {
      yaml += "    - id: t-10\n      paused: sometimes\n";
    } else {
      yaml += "    - id: t-" + std::to_string(i) + "\n";
    }
  }
  yaml += "  targets_refresh: 0s\n";
  ASSERT_TRUE(detail::outline_of(yaml).static_list.has_value());
  const LoadResult loaded = load_string(yaml, "cfg.yaml");
  // Item i sits on line i + 4 (items after 2100 one line lower).
  EXPECT_THAT(lines_of(loaded),
              ElementsAre("cfg.yaml:1504:11: targets.static[1500].id: invalid target id 'bad id' (1-128 characters "
                          "of A-Z a-z 0-9 . _ : -)",
                          "cfg.yaml:2104:11: targets.static[2100].id: duplicate target id 't-10' (first at line 14)",
                          "cfg.yaml:2105:15: targets.static[2100].paused: expected true or false, got 'sometimes'",
                          "cfg.yaml:" + std::to_string(count + 5) +
                              ":20: targets.targets_refresh: must be greater than 0, got '0s'"));
  expect_same_as_one_tree(yaml);
}

TEST_F(StaticList, ALongListReadsTheSameAsTheOneTree) {
  std::string yaml = "targets:\n  static:\n";
  for (std::size_t i = 0; i < 2 * detail::static_chunk_items + 1; ++i)
    yaml += "  - id: w-" + std::to_string(i) + "\n    http: \"http://127.0.0.1:" + std::to_string(20000 + i % 1000) +
            "/health\"\n    tcp: \"[::1]:" + std::to_string(1 + i) + "\"\n";
  yaml += "redis:\n  url: \"redis://127.0.0.1:6379/0\"\n";
  ASSERT_TRUE(detail::outline_of(yaml).static_list.has_value());
  expect_same_as_one_tree(yaml);
  const LoadResult loaded = load_string(yaml, "cfg.yaml");
  ASSERT_TRUE(loaded.config);
  EXPECT_EQ(loaded.config->targets.static_targets.size(), 2 * detail::static_chunk_items + 1);
  EXPECT_EQ(loaded.config->targets.static_targets.back().tcp->port, 2 * detail::static_chunk_items + 1);
}

TEST_F(StaticList, CarriageReturnLineEndsAreCutTheSame) {
  const std::string yaml = "targets:\r\n  static:\r\n    - id: a\r\n    - id: \"b c\"\r\n  engine_label: x\r\n";
  ASSERT_TRUE(detail::outline_of(yaml).static_list.has_value());
  expect_same_as_one_tree(yaml);
  EXPECT_THAT(lines_of(load_string(yaml, "cfg.yaml")),
              ElementsAre("cfg.yaml:4:11: targets.static[1].id: invalid target id 'b c' (1-128 characters of A-Z "
                          "a-z 0-9 . _ : -)"));
}

// Each of these could read differently once cut by lines, so the one tree is loaded.
TEST_F(StaticList, ShapesTheCutCannotBeSureOfLoadAsOneTree) {
  const std::vector<std::string> shapes = {
      "targets:\n  static: [{id: a}, {id: b}]\n",                        // a flow list
      "targets: {static: [{id: a}], engine_label: x}\n",                 // a flow map around it
      "{targets: {static: [{id: a}]}}\n",                                // a flow document
      "targets:\n  static:\n    - &first {id: a}\n    - *first\n",       // anchor and alias
      "x: &id a\ntargets:\n  static:\n    - id: *id\n",                  // an alias into the list
      "targets:\n  static:\n    - # a comment\n      id: a\n",           // a comment after the '-'
      "targets:\n  static:\n    -\n    - id: a\n",                       // an empty item
      "targets:\n  static:\n    - !!map {id: a}\n",                      // a tag inside the list
      "targets:\n  static:\n    - id: a\n  static:\n    - id: b\n",      // 'static' twice
      "targets:\n  static:\n    - id: a\ntargets:\n  static:\n    - id: b\n",  // 'targets' twice
      // A key twice, the list only under the second (the one tree reads the first; fuzz_config found it).
      "targets:\n  sJtatic: 1\ntargets:\n  static:\n    - id: b\n",
      "targets:\n  static: null\n  static:\n    - id: b\n",
      "targets:\n  static:\n    - id: a\n  ? engine_label\n  : x\n",  // an explicit key after the list
      "targets:\n  static:\n    - id: a\n  : { enabled: false }\n",      // an empty key after the list
      "\xEF\xBB\xBFtargets:\n  static:\n    - id: a\n",                  // a byte-order mark
      "targets:\n  static:\n    - id: a\nlog:\r  level: info\n",      // a lone '\r' (a line break to yaml-cpp)
  };
  for (const auto& yaml : shapes) {
    EXPECT_FALSE(detail::outline_of(yaml).static_list.has_value()) << yaml;
    expect_same_as_one_tree(yaml);
  }
}

// Shapes the cut does read, each with a problem the one tree reports too.
TEST_F(StaticList, ItemsOfEveryKindReportAsTheOneTreeDoes) {
  const std::vector<std::string> shapes = {
      "targets:\n  static:\n  - id: a\n  - just-a-name\n  - [1, 2]\n  - {container: x}\n",
      "targets:\n  static:\n    - id: a\n      id: b\n",  // a duplicate key inside an item
      "targets:\n  static:\n    - id: a\n      colour: blue\n",
      "targets:\n  static:\n    - |\n      block text\n    - id: b\n",
      "targets:\n  static:\n    - id: a\n# a comment at column 0\n    - id: b\nlog:\n  level: loud\n",
      "targets:\n  static:\n    - id: a\n  engine_label: \"has space\"\n",
  };
  for (const auto& yaml : shapes) {
    EXPECT_TRUE(detail::outline_of(yaml).static_list.has_value()) << yaml;
    expect_same_as_one_tree(yaml);
    EXPECT_FALSE(load_string(yaml, "cfg.yaml").errors.empty()) << yaml;
  }
}

}  // namespace
}  // namespace healthsweep::config
