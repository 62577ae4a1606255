// remediation.restart.settle reaches the fleet: the first restart of an
// incident waits for it (2 s by default), 0s restarts at once, and a
// reloaded value applies to the next target that goes offline.
#include "sweeps/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "metrics/metrics.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
using namespace std::chrono_literals;
namespace {

TargetSpec spec(const std::string& id) {
  TargetSpec s;
  s.id = id;
  s.container = "c-" + id;
  return s;
}

Evidence exited(const std::string& id) {
  return Evidence{id, Layer::proactive, Verdict::dead, "container exited", true,
                  std::chrono::steady_clock::now()};
}

struct SettleFleet {
  boost::asio::io_context ioc;
  metrics::Metrics metrics{"test"};
  std::unique_ptr<Fleet> fleet;
  std::vector<std::string> ordered;

  explicit SettleFleet(const config::Config& cfg) {
    fleet = std::make_unique<Fleet>(ioc.get_executor(), cfg, metrics);
    fleet->on_order([this](const RemediationOrder& o) {
      if (o.kind == RemediationKind::restart && !o.suppressed) ordered.push_back(o.target);
    });
    fleet->replace_source(TargetSources::static_source, {spec("ws-1"), spec("ws-2")});
  }
  ~SettleFleet() { fleet->stop(); }
};

TEST(FleetSettle, DefaultSettleHoldsTheFirstRestartTwoSeconds) {
  config::Config cfg;
  SettleFleet f(cfg);
  const auto before = std::chrono::steady_clock::now();
  f.fleet->submit(exited("ws-1"));
  f.ioc.poll();
  EXPECT_TRUE(f.ordered.empty()) << "no restart before the settle delay";
  const auto due = f.fleet->machine().next_deadline();
  ASSERT_TRUE(due.has_value());
  EXPECT_GE(*due, before + 2s);
  EXPECT_LE(*due, std::chrono::steady_clock::now() + 2s);
}

TEST(FleetSettle, ZeroSettleRestartsAtOnce) {
  config::Config cfg;
  cfg.restart.settle = 0s;
  SettleFleet f(cfg);
  f.fleet->submit(exited("ws-1"));
  f.ioc.poll();  // due now: ordered in this turn, no timer to wait for
  EXPECT_EQ(f.ordered, std::vector<std::string>{"ws-1"});
}

TEST(FleetSettle, ReloadedSettleAppliesToTheNextIncident) {
  config::Config cfg;
  cfg.restart.settle = 1h;
  SettleFleet f(cfg);
  f.fleet->submit(exited("ws-1"));
  f.ioc.poll();
  EXPECT_TRUE(f.ordered.empty());

  cfg.restart.settle = 0s;  // SIGHUP: Components::reconfigure -> Fleet::configure
  f.fleet->configure(cfg);
  f.fleet->submit(exited("ws-2"));
  f.ioc.poll();
  EXPECT_EQ(f.ordered, std::vector<std::string>{"ws-2"}) << "ws-1 keeps the deadline it was given";
}

}  // namespace
}  // namespace healthsweep::sweeps
