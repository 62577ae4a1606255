// Single configuration values: durations, host:port endpoints, error lines.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace healthsweep::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ConfigDuration, AcceptsEveryUnitAndCombinations) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("15s"), seconds(15));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("1m30s"), seconds(90));
  EXPECT_EQ(parse_duration("1h2m3s4ms"), hours(1) + minutes(2) + seconds(3) + milliseconds(4));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("90s"), seconds(90));
}

TEST(ConfigDuration, RejectsNumbersWithoutUnitsAndGarbage) {
  for (const char* bad : {"15", "1x", "-1s", "", "s", "1.5s", " 1s", "1s ", "1 s", "1S", "1sec", "1m1h",
                          "1s1s", "1ms1s", "+1s", "1h30", "99999999999999999999h", "9223372036854775807h"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(ConfigEndpoint, AcceptsIpv4Ipv6AndHostNames) {
  const auto v4 = parse_endpoint("127.0.0.1:9470");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9470);
  const auto v6 = parse_endpoint("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");  // without brackets, ready for an address parser
  EXPECT_EQ(v6->port, 80);
  const auto name = parse_endpoint("localhost:1");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, 1);
  EXPECT_TRUE(parse_endpoint("db-1.example.internal:65535"));
  EXPECT_TRUE(parse_endpoint("[fe80::1:2]:8080"));
}

TEST(ConfigEndpoint, RejectsMissingPartsBadPortsAndBadHosts) {
  for (const char* bad : {"1.2.3.4", "host:99999", ":80", "host:0", "host:", "host:8o", "::1:80", "[::1]",
                          "[::1]80", "[nonsense]:80", "999.1.1.1:80", "-host:80", "ho st:80", "", ":",
                          "host:-1", "host:+80", "under_score:80"}) {
    EXPECT_EQ(parse_endpoint(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(ConfigError, PrintsPathLineColumnMessage) {
  const ConfigError e{"/etc/healthsweep/healthsweep.yaml", 12, 5, "unknown key 'x'"};
  EXPECT_EQ(e.to_string(), "/etc/healthsweep/healthsweep.yaml:12:5: unknown key 'x'");
}

}  // namespace
}  // namespace healthsweep::config

TEST(ConfigValues, ReleasingStaticTargetsFreesTheirStorage) {
  healthsweep::config::Config cfg;
  cfg.targets.static_targets.resize(1000);
  healthsweep::config::release_static_targets(cfg);
  EXPECT_TRUE(cfg.targets.static_targets.empty());
  EXPECT_EQ(cfg.targets.static_targets.capacity(), 0u);  // clear() would keep it
}
