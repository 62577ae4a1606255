// What fuzz_config (scripts/fuzz) found, each input kept also as a seed in
// tests/fuzz/corpus/fuzz_config/. A use of a dead object fails reliably only
// under ASan (scripts/test --sanitize, scripts/fuzz); under g++ the test pins
// the values the loader must read.
#include <gtest/gtest.h>

#include "config/config.hpp"

using namespace healthsweep;

// fuzz_config, first run (tests/fuzz/corpus/fuzz_config/crash_map_iterator_proxy.yaml):
// config/reader.cpp bound `const YAML::Node&` to `it->first`/`it->second` of a
// yaml-cpp map iterator, whose operator-> returns a temporary: every map read a
// dead stack object (ASan: stack-use-after-scope in Section::Section).
TEST(ConfigFuzzFindings, MapKeysAndValuesAreReadFromLiveNodes) {
  const auto r = config::load_string(
      "redis:\nengine: {}\ntargets: {static: [{id: a, tcp: \"[::1]:80\"}]}\n",
      "/nonexistent/fuzz/healthsweep.yaml");
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  ASSERT_EQ(r.config->targets.static_targets.size(), 1u);
  EXPECT_EQ(r.config->targets.static_targets[0].id, "a");
  ASSERT_TRUE(r.config->targets.static_targets[0].tcp.has_value());
  EXPECT_EQ(r.config->targets.static_targets[0].tcp->port, 80);
}
