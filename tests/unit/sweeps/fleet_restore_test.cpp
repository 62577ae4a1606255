// Fleet::restore(): rows of a previous run apply to targets already known at
// once, and to a target no source names yet when it appears.
#include "sweeps/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "metrics/metrics.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;
namespace {

TargetSpec spec(const std::string& id) {
  TargetSpec s;
  s.id = id;
  s.container = "c-" + id;
  return s;
}

TEST(FleetRestore, KnownTargetsAtOnceLaterOnesWhenTheyAppear) {
  boost::asio::io_context ioc;
  config::Config cfg;
  metrics::Metrics metrics("test");
  Fleet fleet(ioc.get_executor(), cfg, metrics);
  fleet.replace_source(TargetSources::static_source, {spec("known")});
  fleet.restore({RestoredTarget{"known", 3, true, {}}, RestoredTarget{"later", 2, false, {}}});

  const auto* known = fleet.machine().find("known");
  ASSERT_NE(known, nullptr);
  EXPECT_TRUE(known->quarantined);
  EXPECT_EQ(known->restarts, 3u);
  EXPECT_EQ(fleet.machine().find("later"), nullptr) << "restore adds no target";

  fleet.replace_source(TargetSources::static_source, {spec("known"), spec("later")});
  const auto* later = fleet.machine().find("later");
  ASSERT_NE(later, nullptr);
  EXPECT_EQ(later->restarts, 2u);
  EXPECT_FALSE(later->quarantined);

  // Taken up once: leaving and coming back starts from what this run knows.
  fleet.replace_source(TargetSources::static_source, {spec("known")});
  fleet.replace_source(TargetSources::static_source, {spec("known"), spec("later")});
  EXPECT_EQ(fleet.machine().find("later")->restarts, 0u);
  fleet.stop();
}

}  // namespace
}  // namespace healthsweep::sweeps
