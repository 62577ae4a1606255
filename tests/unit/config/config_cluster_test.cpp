// The cluster section (SPEC section 3, issue 14): defaults, and each mistake
// reported as PATH:LINE:COLUMN where the operator has to look.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>

#include "config/config.hpp"
#include "tests/unit/config/config_test_env.hpp"

namespace healthsweep::config {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

class ConfigCluster : public WithoutPgDsnEnv {};

const std::string pg = "postgres:\n  dsn: \"host=127.0.0.1\"\n";

TEST_F(ConfigCluster, AbsentMeansOneInstance) {
  const auto result = load_string(pg, "cfg.yaml");
  ASSERT_TRUE(result.config);
  EXPECT_FALSE(result.config->cluster.enabled);
}

TEST_F(ConfigCluster, TheSpecDefaultsTheHostNameAndTheListenerForAdvertise) {
  const auto result = load_string(pg + "cluster:\n  instance_id: null\n  advertise: null\n", "cfg.yaml");
  ASSERT_TRUE(result.config) << result.errors.at(0).to_string();
  const Cluster& c = result.config->cluster;
  EXPECT_TRUE(c.enabled);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(c.instance_id, host);
  EXPECT_EQ(c.advertise, "") << "filled in from the listener's address at start";
  EXPECT_EQ(c.lease, 10s);
  EXPECT_EQ(c.renew_every, 2s);
  EXPECT_EQ(c.renew_deadline(), std::chrono::milliseconds(6666)) << "two thirds of the lease, as client-go";
}

TEST_F(ConfigCluster, EveryKeyIsRead) {
  const auto result = load_string(pg + "cluster:\n  instance_id: host-a\n  advertise: \"http://host-a:9470\"\n"
                                       "  lease: 15s\n  renew_every: 5s\n",
                                  "cfg.yaml");
  ASSERT_TRUE(result.config) << result.errors.at(0).to_string();
  const Cluster& c = result.config->cluster;
  EXPECT_EQ(c.instance_id, "host-a");
  EXPECT_EQ(c.advertise, "http://host-a:9470");
  EXPECT_EQ(c.lease, 15s);
  EXPECT_EQ(c.renew_every, 5s);
  EXPECT_EQ(c.renew_deadline(), 10s);
}

// Peers' offline counts take up to 2 x renew_every to arrive; the default
// settle waits that long with peers, so the fleet-wide fail-safe sees a
// burst before the first restart. A settle in the file is the operator's.
TEST_F(ConfigCluster, TheDefaultSettleWaitsForThePeersCounts) {
  const auto alone = load_string(pg, "cfg.yaml");
  ASSERT_TRUE(alone.config);
  EXPECT_EQ(alone.config->restart.settle, 2s);
  const auto peers = load_string(pg + "cluster:\n  instance_id: a\n", "cfg.yaml");
  ASSERT_TRUE(peers.config) << peers.errors.at(0).to_string();
  EXPECT_EQ(peers.config->restart.settle, 4s);
  const auto fast = load_string(pg + "cluster:\n  instance_id: a\n  lease: 3s\n  renew_every: 500ms\n", "cfg.yaml");
  ASSERT_TRUE(fast.config) << fast.errors.at(0).to_string();
  EXPECT_EQ(fast.config->restart.settle, 2s) << "never shorter than the default";
  const auto given = load_string(pg + "cluster:\n  instance_id: a\nremediation:\n  restart:\n    settle: 1s\n",
                                 "cfg.yaml");
  ASSERT_TRUE(given.config) << given.errors.at(0).to_string();
  EXPECT_EQ(given.config->restart.settle, 1s);
}

TEST_F(ConfigCluster, WithoutPostgresIsAnError) {
  EXPECT_THAT(errors_of("cluster:\n  instance_id: a\n"),
              ElementsAre("cfg.yaml:1:1: cluster: needs the postgres section (the instances' leases live there)"));
}

TEST_F(ConfigCluster, ARenewalTooRareForTheDeadlineIsAnError) {
  EXPECT_THAT(errors_of(pg + "cluster:\n  lease: 3s\n  renew_every: 2s\n"),
              ElementsAre("cfg.yaml:5:16: cluster.renew_every (2s) must be at most a third of cluster.lease (3s): an "
                          "instance fences itself after two thirds of the lease without a renewal"));
  EXPECT_THAT(errors_of(pg + "cluster:\n  lease: 5s\n"),
              ElementsAre("cfg.yaml:4:10: cluster.renew_every (2s) must be at most a third of cluster.lease (5s): an "
                          "instance fences itself after two thirds of the lease without a renewal"));
  EXPECT_TRUE(errors_of(pg + "cluster:\n  lease: 3s\n  renew_every: 1s\n").empty());
}

TEST_F(ConfigCluster, BadValuesAreErrorsWhereTheyStand) {
  EXPECT_THAT(errors_of(pg + "cluster:\n  instance_id: \"has space\"\n"),
              ElementsAre("cfg.yaml:4:16: cluster.instance_id: 'has space' must be 1 to 63 letters, digits, '.', '_', "
                          "':' or '-', starting with a letter or digit"));
  EXPECT_THAT(errors_of(pg + "cluster:\n  advertise: \"host-a:9470\"\n"),
              ElementsAre("cfg.yaml:4:14: cluster.advertise: invalid URL 'host-a:9470': must start with http:// or "
                          "https://"));
  EXPECT_EQ(errors_of(pg + "cluster:\n  lease: 0s\n").size(), 1u);
  EXPECT_THAT(errors_of(pg + "cluster:\n  leese: 10s\n").at(0), ::testing::HasSubstr("leese"));
}

}  // namespace
}  // namespace healthsweep::config
