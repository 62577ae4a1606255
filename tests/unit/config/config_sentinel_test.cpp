// redis.sentinels and redis.master_name: read together, each mistake
// reported as PATH:LINE:COLUMN where the operator has to look.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/unit/config/config_test_env.hpp"

namespace healthsweep::config {
namespace {

using ::testing::ElementsAre;

class ConfigSentinel : public WithoutPgDsnEnv {};

TEST_F(ConfigSentinel, BothKeysGiveTheSentinelsInOrderAndTheName) {
  const auto result = load_string("redis:\n"
                                  "  url: \"redis://:pw@ignored.example:6379/2\"\n"
                                  "  sentinels: [\"127.0.0.1:26379\", \"sentinel-b.internal:26380\", \"[::1]:26381\"]\n"
                                  "  master_name: m1\n",
                                  "cfg.yaml");
  ASSERT_TRUE(result.config) << (result.errors.empty() ? "" : result.errors[0].to_string());
  const Redis& r = result.config->redis;
  EXPECT_TRUE(r.uses_sentinel());
  EXPECT_EQ(r.master_name, "m1");
  EXPECT_THAT(r.sentinels, ElementsAre(Endpoint{"127.0.0.1", 26379}, Endpoint{"sentinel-b.internal", 26380},
                                       Endpoint{"::1", 26381}));
  EXPECT_EQ(r.url, "redis://:pw@ignored.example:6379/2");
}

TEST_F(ConfigSentinel, AbsentOrTheSpecDefaultsMeanNoSentinel) {
  for (const char* yaml : {"redis:\n  url: \"redis://127.0.0.1:6379/0\"\n",
                           "redis:\n  sentinels: []\n  master_name: null\n", "redis:\n  sentinels: []\n"}) {
    const auto result = load_string(yaml, "cfg.yaml");
    ASSERT_TRUE(result.config) << yaml << (result.errors.empty() ? "" : result.errors[0].to_string());
    EXPECT_FALSE(result.config->redis.uses_sentinel()) << yaml;
    EXPECT_TRUE(result.config->redis.sentinels.empty()) << yaml;
  }
}

TEST_F(ConfigSentinel, OneWithoutTheOtherIsAnError) {
  EXPECT_THAT(errors_of("redis:\n  master_name: m1\n"),
              ElementsAre("cfg.yaml:2:3: redis.master_name: needs redis.sentinels, the sentinels to ask (a list of "
                          "host:port)"));
  EXPECT_THAT(errors_of("redis:\n  sentinels: [\"127.0.0.1:26379\"]\n"),
              ElementsAre("cfg.yaml:2:3: redis.sentinels: needs redis.master_name, the name the sentinels monitor"));
  EXPECT_THAT(errors_of("redis:\n  sentinels: [\"127.0.0.1:26379\"]\n  master_name: null\n"),
              ElementsAre("cfg.yaml:2:3: redis.sentinels: needs redis.master_name, the name the sentinels monitor"));
}

TEST_F(ConfigSentinel, AnEmptyListWithAMasterNameIsAnError) {
  EXPECT_THAT(errors_of("redis:\n  sentinels: []\n  master_name: m1\n"),
              ElementsAre("cfg.yaml:2:14: redis.sentinels: empty, but redis.master_name 'm1' needs at least one "
                          "sentinel (host:port)"));
  EXPECT_THAT(errors_of("redis:\n  master_name: m1\n  sentinels:\n"),
              ElementsAre("cfg.yaml:3:3: redis.sentinels: empty, but redis.master_name 'm1' needs at least one "
                          "sentinel (host:port)"));
}

TEST_F(ConfigSentinel, MalformedSentinelsPointAtTheItem) {
  EXPECT_THAT(errors_of("redis:\n"
                        "  master_name: m1\n"
                        "  sentinels:\n"
                        "    - \"127.0.0.1:26379\"\n"
                        "    - \"127.0.0.1\"\n"
                        "    - \"127.0.0.1:0\"\n"
                        "    - \"::1:26379\"\n"
                        "    - {host: a}\n"),
              ElementsAre("cfg.yaml:5:7: redis.sentinels[1]: invalid host:port '127.0.0.1': missing ':port'",
                          "cfg.yaml:6:7: redis.sentinels[2]: invalid host:port '127.0.0.1:0': port '0' is not a "
                          "number in 1-65535",
                          "cfg.yaml:7:7: redis.sentinels[3]: invalid host:port '::1:26379': invalid host '::1' (IPv6 "
                          "needs brackets: [::1]:80)",
                          "cfg.yaml:8:7: redis.sentinels[4]: expected host:port, got a map"));
  EXPECT_THAT(errors_of("redis:\n  master_name: m1\n  sentinels: \"127.0.0.1:26379\"\n"),
              ElementsAre("cfg.yaml:3:14: redis.sentinels: expected a list, got a scalar"));
  EXPECT_THAT(errors_of("redis:\n  master_name: m1\n  sentinels: [\"127.0.0.1:26379\", \"127.0.0.1:26379\"]\n"),
              ElementsAre("cfg.yaml:3:34: redis.sentinels[1]: '127.0.0.1:26379' is listed twice"));
}

TEST_F(ConfigSentinel, MasterNameMustBeAString) {
  EXPECT_THAT(errors_of("redis:\n  sentinels: [\"127.0.0.1:26379\"]\n  master_name: \"\"\n"),
              ElementsAre("cfg.yaml:3:16: redis.master_name: must not be empty (the name the sentinels monitor)"));
  EXPECT_THAT(errors_of("redis:\n  sentinels: [\"127.0.0.1:26379\"]\n  master_name: [m1]\n"),
              ElementsAre("cfg.yaml:3:16: redis.master_name: expected a string, got a list"));
}

}  // namespace
}  // namespace healthsweep::config
