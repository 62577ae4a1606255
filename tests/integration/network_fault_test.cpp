// Issue 13 section 4, network faults: the real daemon in a network namespace
// of the test's own, Redis and PostgreSQL on the other side of a veth pair,
// iptables DROP silencing one of them (connections stay open, nothing
// arrives), and a slow link through a delaying proxy. Silence is no evidence
// of death: no dead verdict, the fail-safe holds remediation while Redis is
// unreachable, and afterwards the daemon recovers by itself: a target that
// really died meanwhile is caught (and only it), events written during a
// PostgreSQL outage reach the table.
//
// Redis listens on the veth address itself. The shared PostgreSQL (and the
// test's webhook) listen on 127.0.0.1 only, so the daemon reaches them
// through forwarding proxies on the veth address (no delay): the DROP sits
// between the daemon and that door.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "tests/integration/fault_fleet.hpp"
#include "tests/integration/network_sandbox.hpp"
#include "tests/integration/psql.hpp"
#include "tests/support/delay_proxy.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string liveness_status(const Daemon& d, const std::string& subsystem) {
  const auto body = d.get("/admin/liveness").body;
  const auto at = body.find("\"" + subsystem + "\":{\"status\":\"");
  if (at == std::string::npos) return "?";
  const auto from = at + subsystem.size() + 14;
  return body.substr(from, body.find('"', from) - from);
}

}  // namespace

TEST(NetworkFault, SilentRedisThenSilentPostgresDeclareNobodyDeadHoldTheFailSafeAndRecover) {
  HS_REQUIRE_ENV(admin_dsn, "HS_TEST_PG_DSN");
  HS_REQUIRE_NETNS(sandbox);
  HS_REQUIRE_REDIS(redis, RedisServer::Options{{"bind 127.0.0.1 " + sandbox.host_address(), "protected-mode no"}});
  ScratchDatabase db(admin_dsn, "netfault");
  DelayProxy pg_door(sandbox.host_address(), dsn_port(admin_dsn));
  const auto ids = fleet_ids("nf-", 10);
  Heartbeater hb(*redis, ids, 2000ms, 400ms);
  StatusServer hook(200);
  ASSERT_NE(hook.port, 0) << hook.process.log();
  DelayProxy hook_door(sandbox.host_address(), hook.port);  // the webhook listens on 127.0.0.1 too
  TempDir spool;
  const std::string pg_dsn = std::regex_replace(db.dsn, std::regex(R"(host=\S+)"), "host=" + sandbox.host_address());
  const std::string pg_dsn_at_door =
      std::regex_replace(pg_dsn, std::regex(R"(port=\d+)"), "port=" + std::to_string(pg_door.port()));
  Daemon::Options opts;
  opts.command_prefix = sandbox.exec_prefix();
  opts.http_host = sandbox.inner_address();
  // Nothing else listens in the namespace: any fixed port is free there.
  Daemon d("listen: \"" + sandbox.inner_address() + ":9470\"\n"
           "redis:\n  url: \"redis://" + sandbox.host_address() + ":" + std::to_string(redis->port()) + "/0\"\n"
           "  reconcile_interval: 1s\n"
           "postgres:\n  dsn: \"" + pg_dsn_at_door + "\"\n  spool_dir: \"" + spool.path() + "\"\n" +
           static_targets_yaml(ids) +
           webhook_remediation_yaml("http://" + sandbox.host_address() + ":" + std::to_string(hook_door.port()) +
                                    "/restart", "min_targets: 1000") +
           "liveness: { stale_after: 3s }\n", opts);
  ASSERT_TRUE(eventually([&] { return not_in_state(d, ids, "online").empty(); }, 30s)) << d.log();
  ASSERT_TRUE(eventually([&] { return liveness_status(d, "store") == "ok"; }, 30s)) << d.log();
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 0);

  // 1. Redis silenced. One target really dies meanwhile: nobody can see it.
  ASSERT_TRUE(sandbox.drop(redis->port()));
  hb.die("nf-0");
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 1; }, 60s)) << d.log();
  ASSERT_TRUE(eventually([&] { return liveness_status(d, "redis") == "stale"; }, 60s)) << d.log();
  // Every key (TTL 2 s) would have lapsed three times over by the daemon's
  // last knowledge of it.
  ASSERT_TRUE(hb.wait_rounds(15));
  EXPECT_EQ(not_in_state(d, ids, "online"), std::vector<std::string>{}) << d.log();
  EXPECT_EQ(offline_transitions(d), 0) << d.log();
  EXPECT_EQ(restart_orders(hook), (std::map<std::string, int>{}));
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 1);

  // Back: the daemon reconnects and reconciles by itself, the fail-safe
  // clears, and the one that died is caught and restarted; nobody else.
  ASSERT_TRUE(sandbox.restore(redis->port()));
  ASSERT_TRUE(eventually([&] { return state_of(d, "nf-0") == "restarting"; }, 60s)) << d.log();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_failsafe_active") == 0; }, 30s)) << d.log();
  ASSERT_TRUE(eventually([&] { return liveness_status(d, "redis") == "ok"; }, 30s)) << d.log();
  const std::vector<std::string> rest(ids.begin() + 1, ids.end());
  EXPECT_EQ(not_in_state(d, rest, "online"), std::vector<std::string>{}) << d.log();
  // "restarting" is the order given; the webhook's POST is still on its way.
  EXPECT_TRUE(eventually([&] { return restart_orders(hook) == once_each({"nf-0"}); }, 30s))
      << testing::PrintToString(restart_orders(hook)) << "\n" << d.log();
  EXPECT_EQ(offline_transitions(d), 1) << d.log();

  // 2. PostgreSQL silenced while a target dies: remediation does not wait
  // for the store, the events wait in the spool.
  ASSERT_TRUE(eventually([&] {
    return psql(db.dsn, "select count(*) from healthsweep_events where target = 'nf-0' "
                        "and from_state <> 'unknown'") == "2"; }, 30s))
      << d.log();  // online -> offline -> restarting, stored before the next fault
  ASSERT_TRUE(sandbox.drop(pg_door.port()));
  hb.die("nf-1");
  ASSERT_TRUE(eventually([&] { return state_of(d, "nf-1") == "restarting"; }, 30s)) << d.log();
  ASSERT_TRUE(eventually([&] { return liveness_status(d, "store") == "stale"; }, 60s)) << d.log();
  EXPECT_GE(metric(d, "healthsweep_store_spool_events"), 2) << d.log();
  EXPECT_EQ(psql(db.dsn, "select count(*) from healthsweep_events where target = 'nf-1' "
                         "and from_state <> 'unknown'"), "0");
  // "restarting" is the order given; the webhook's POST is still on its way.
  EXPECT_TRUE(eventually([&] { return restart_orders(hook) == once_each({"nf-0", "nf-1"}); }, 30s))
      << testing::PrintToString(restart_orders(hook)) << "\n" << d.log();
  EXPECT_EQ(liveness_status(d, "redis"), "ok");

  ASSERT_TRUE(sandbox.restore(pg_door.port()));
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_store_spool_events") == 0; }, 60s)) << d.log();
  ASSERT_TRUE(eventually([&] { return liveness_status(d, "store") == "ok"; }, 30s)) << d.log();
  EXPECT_EQ(psql(db.dsn, "select string_agg(from_state || '>' || to_state, ',' order by id) "
                         "from healthsweep_events where target = 'nf-1'"),
            "unknown>online,online>offline,offline>restarting");
  const std::vector<std::string> rest2(ids.begin() + 2, ids.end());
  EXPECT_EQ(not_in_state(d, rest2, "online"), std::vector<std::string>{}) << d.log();
  EXPECT_EQ(offline_transitions(d), 2) << d.log();
}

// A slow link (every byte 600 ms late each way, longer than a heart-beat
// period, the round trip more than half a TTL): deadlines taken from PTTL
// are early rather than late and re-armed, so no live target is judged
// dead; a real lapse is still caught; the event store keeps up.
TEST(NetworkFault, SlowLinkToRedisAndPostgresJudgesNobodyWronglyAndStillCatchesALapse) {
  HS_REQUIRE_ENV(admin_dsn, "HS_TEST_PG_DSN");
  HS_REQUIRE_REDIS(redis);
  ScratchDatabase db(admin_dsn, "netfault");
  DelayProxy redis_link("127.0.0.1", redis->port());
  DelayProxy pg_link("127.0.0.1", dsn_port(admin_dsn));
  const auto ids = fleet_ids("sl-", 10);
  Heartbeater hb(*redis, ids, 2000ms, 400ms);
  StatusServer hook(200);
  ASSERT_NE(hook.port, 0) << hook.process.log();
  TempDir spool;
  const std::string pg_dsn =
      std::regex_replace(db.dsn, std::regex(R"(port=\d+)"), "port=" + std::to_string(pg_link.port()));
  Daemon d("redis:\n  url: \"redis://127.0.0.1:" + std::to_string(redis_link.port()) + "/0\"\n"
           "  reconcile_interval: 1s\n"
           "postgres:\n  dsn: \"" + pg_dsn + "\"\n  spool_dir: \"" + spool.path() + "\"\n" +
           static_targets_yaml(ids) + webhook_remediation_yaml(hook.url("/restart"), "min_targets: 1000") +
           "liveness: { stale_after: 10s }\n");
  ASSERT_TRUE(eventually([&] { return not_in_state(d, ids, "online").empty(); }, 30s)) << d.log();

  redis_link.set_delay(600ms);
  pg_link.set_delay(600ms);
  const auto reconciles = [&] {
    return metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"passive_reconcile\"}");
  };
  const double r0 = reconciles();
  ASSERT_TRUE(hb.wait_rounds(25));  // 10 s: five TTLs
  ASSERT_TRUE(eventually([&] { return reconciles() >= r0 + 3; }, 60s)) << d.log();
  EXPECT_EQ(not_in_state(d, ids, "online"), std::vector<std::string>{}) << d.log();
  EXPECT_EQ(offline_transitions(d), 0) << d.log();

  hb.die("sl-0");
  ASSERT_TRUE(eventually([&] { return state_of(d, "sl-0") == "restarting"; }, 30s)) << d.log();
  ASSERT_TRUE(hb.wait_rounds(10));
  EXPECT_EQ(restart_orders(hook), once_each({"sl-0"})) << d.log();
  const std::vector<std::string> rest(ids.begin() + 1, ids.end());
  EXPECT_EQ(not_in_state(d, rest, "online"), std::vector<std::string>{}) << d.log();
  EXPECT_EQ(metric(d, "healthsweep_failsafe_active"), 0);
  EXPECT_TRUE(eventually([&] {
    return psql(db.dsn, "select count(*) from healthsweep_events where target = 'sl-0' "
                        "and from_state <> 'unknown'") == "2"; }, 60s))
      << d.log();
  EXPECT_GT(redis_link.connections_accepted(), 0);
}
