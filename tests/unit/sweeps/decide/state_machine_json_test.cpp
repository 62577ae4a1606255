// The target object of SPEC section 4.
#include <boost/json/serialize.hpp>

#include "sweeps/target_json.hpp"
#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;
namespace {

using TargetJsonTest = StateMachineTest;

TEST_F(TargetJsonTest, FreshTargetHasNullsWhereNothingIsKnown) {
  add("ws-1");
  const auto o = to_json(*machine().find("ws-1"), now, wall0);
  EXPECT_EQ(boost::json::serialize(o),
            R"({"id":"ws-1","state":"unknown","container":"c-ws-1","since":"2026-11-23T10:00:00.000Z",)"
            R"("reason":"discovered","last_heartbeat":null,"restarts":0,"quarantined":false,)"
            R"("evidence":{"passive":null,"proactive":null,"reactive":null},"owner":null})");
}

TEST_F(TargetJsonTest, OwnerIsTheInstanceThatShowsItAndNullWithoutACluster) {
  add("ws-1");
  EXPECT_EQ(to_json(*machine().find("ws-1"), now, wall0, "host-a").at("owner").as_string(), "host-a");
  EXPECT_TRUE(to_json(*machine().find("ws-1"), now, wall0).at("owner").is_null());
}

TEST_F(TargetJsonTest, ShowsStateEvidenceHeartbeatAndRestarts) {
  make(1s);
  add("ws-1");
  now = t0 + 1500ms;
  evidence("ws-1", Verdict::alive, false, Layer::passive, "heartbeat present", t0 + 1s);
  now = t0 + 2s;
  evidence("ws-1", Verdict::dead, true, Layer::passive, "heartbeat expired");
  at(3s);  // restart ordered
  const auto view_steady = t0 + 10s;
  const auto view_wall = wall0 + 10s;
  const auto o = to_json(*machine().find("ws-1"), view_steady, view_wall);
  EXPECT_EQ(o.at("state").as_string(), "restarting");
  EXPECT_EQ(o.at("since").as_string(), "2026-11-23T10:00:03.000Z");
  EXPECT_EQ(o.at("reason").as_string(), "restart 1 of 5 within 10m");
  EXPECT_EQ(o.at("last_heartbeat").as_string(), "2026-11-23T10:00:01.000Z");
  EXPECT_EQ(o.at("restarts").as_int64(), 1);
  EXPECT_EQ(o.at("evidence").at("passive").as_string(), "dead: heartbeat expired");
  EXPECT_TRUE(o.at("evidence").at("proactive").is_null());
}

TEST_F(TargetJsonTest, TargetWithoutContainerShowsNull) {
  TargetSpec spec;
  spec.id = "plain";
  machine().upsert(spec, now);
  const auto o = to_json(*machine().find("plain"), now, wall0);
  EXPECT_TRUE(o.at("container").is_null());
}

TEST_F(TargetJsonTest, QuarantineIsShown) {
  cfg.restart.max_restarts = 0;
  add("ws-1");
  dead("ws-1");
  const auto o = to_json(*machine().find("ws-1"), now, wall0);
  EXPECT_EQ(o.at("state").as_string(), "quarantined");
  EXPECT_TRUE(o.at("quarantined").as_bool());
}

}  // namespace
}  // namespace healthsweep::sweeps::testing
