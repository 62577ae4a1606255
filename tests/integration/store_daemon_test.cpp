// SPEC section 6 through the whole daemon: every state change of a target
// becomes one row of healthsweep_events and its healthsweep_targets row
// follows; with PostgreSQL unreachable the events wait in the spool.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "tests/integration/status_server.hpp"
#include "tests/integration/psql.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

TEST(StoreDaemon, EveryTransitionIsOneEventRowAndTheTargetRowFollows) {
  HS_REQUIRE_ENV(dsn, "HS_TEST_PG_DSN");
  const std::string db = "daemon_" + std::to_string(std::random_device{}() % 1000000);
  ASSERT_EQ(psql(dsn, "create database " + db), "");
  const std::string db_dsn = dsn + " dbname=" + db;
  {
    TempDir spool;
    // A TCP target on a port nobody listens on: unknown -> suspect -> offline.
    const ClosedPort closed_port;
    const int closed = closed_port.port();
    Daemon d("postgres:\n  dsn: \"" + db_dsn + "\"\n  spool_dir: \"" + spool.path() + "\"\n"
             "targets:\n  static:\n    - { id: pg-t, tcp: \"127.0.0.1:" + std::to_string(closed) + "\" }\n"
             "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, failure_threshold: 2 }\n"
             "remediation:\n  restart: { via: none }\n");
    ASSERT_TRUE(eventually([&] { return state_of(d, "pg-t") == "offline"; }, 10s)) << d.log();
    ASSERT_TRUE(eventually([&] {
      return psql(db_dsn, "select state from healthsweep_targets where id = 'pg-t'") == "offline"; }, 10s))
        << d.log();
    EXPECT_EQ(psql(db_dsn, "select string_agg(from_state || '>' || to_state, ',' order by id) "
                           "from healthsweep_events where target = 'pg-t'"),
              "unknown>suspect,suspect>offline");
    EXPECT_EQ(psql(db_dsn, "select count(*) from healthsweep_schema_migrations"), "5")
        << "migrations 1-5, the cluster's table and the fencing columns included";
    EXPECT_EQ(psql(db_dsn, "select layer from healthsweep_events where to_state = 'offline'"), "proactive");
    EXPECT_EQ(metric(d, "healthsweep_store_spool_events"), 0);
    EXPECT_NE(d.get("/admin/liveness").body.find("\"store\":{\"status\":\"ok\""), std::string::npos);
  }
  psql(dsn, "drop database " + db);
}

TEST(StoreDaemon, AQuarantineAndTheRestartCountSurviveADaemonRestart) {
  HS_REQUIRE_ENV(dsn, "HS_TEST_PG_DSN");
  const std::string db = "restore_" + std::to_string(std::random_device{}() % 1000000);
  ASSERT_EQ(psql(dsn, "create database " + db), "");
  const std::string db_dsn = dsn + " dbname=" + db;
  {
    StatusServer hook(200);  // takes every restart order; the target never comes back
    ASSERT_NE(hook.port, 0) << hook.process.log();
    TempDir spool;
    const ClosedPort closed_port;
    const int closed = closed_port.port();
    // One restart allowed per hour: the failed start after it is a crash loop.
    // Five failed checks (~1 s) plus the settle delay (2 s) before any order:
    // time for the restore, which normally lands within milliseconds.
    const std::string config =
        "postgres:\n  dsn: \"" + db_dsn + "\"\n  spool_dir: \"" + spool.path() + "\"\n"
        "targets:\n  static:\n    - { id: rq-t, tcp: \"127.0.0.1:" + std::to_string(closed) + "\" }\n"
        "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, failure_threshold: 5 }\n"
        "remediation:\n  restart:\n    via: webhook\n    webhook_url: \"" + hook.url("/restart") + "\"\n"
        "    max_restarts: 1\n    window: 1h\n    startup_grace: 1s\n"
        "  fail_safe: { min_targets: 1000 }\n";
    {
      Daemon first(config);
      ASSERT_TRUE(eventually([&] { return state_of(first, "rq-t") == "quarantined"; }, 20s)) << first.log();
      EXPECT_EQ(target(first, "rq-t")->restarts, 1);
      ASSERT_TRUE(eventually([&] {
        return psql(db_dsn, "select quarantined, restarts, cardinality(recent_restarts) "
                            "from healthsweep_targets where id = 'rq-t'") == "t|1|1"; }, 10s)) << first.log();
    }
    const auto orders_before = hook.posts();
    ASSERT_FALSE(orders_before.empty());
    {
      Daemon second(config);
      ASSERT_TRUE(eventually([&] { return state_of(second, "rq-t") == "quarantined"; }, 10s)) << second.log();
      EXPECT_EQ(target(second, "rq-t")->restarts, 1) << "the count carries on";
      EXPECT_TRUE(target(second, "rq-t")->quarantined);
      // past the settle delay (2 s) a restart would have gone out
      EXPECT_TRUE(holds_for(3s, [&] { return state_of(second, "rq-t") == "quarantined"; })) << second.log();
      EXPECT_EQ(hook.posts(), orders_before) << "no restart order after the daemon's restart";
      EXPECT_EQ(metric(second, "healthsweep_remediations_total{action=\"webhook\",result=\"ok\"}"), 0);
    }
  }
  psql(dsn, "drop database " + db);
}

TEST(StoreDaemon, UnreachableDatabaseSpoolsEventsAndTheStoreGoesStale) {
  TempDir spool;
  const ClosedPort closed_db_port;
  const int closed_db = closed_db_port.port();
  const ClosedPort closed_port;
  const int closed = closed_port.port();
  Daemon d("postgres:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(closed_db) + " dbname=x\"\n"
           "  spool_dir: \"" + spool.path() + "\"\n"
           "targets:\n  static:\n    - { id: sp-t, tcp: \"127.0.0.1:" + std::to_string(closed) + "\" }\n"
           "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, failure_threshold: 2 }\n"
           "liveness: { stale_after: 1s }\n"
           "remediation:\n  restart: { via: none }\n");
  ASSERT_TRUE(eventually([&] { return state_of(d, "sp-t") == "offline"; }, 10s)) << d.log();
  EXPECT_TRUE(eventually([&] { return metric(d, "healthsweep_store_spool_events") == 2; }, 5s)) << d.log();
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 503; }, 10s));
  EXPECT_NE(d.get("/admin/liveness").body.find("\"store\":{\"status\":\"stale\""), std::string::npos);
  const auto spooled = read_file(spool.file("events.jsonl"));
  EXPECT_NE(spooled.find("\"to\":\"offline\""), std::string::npos) << spooled;
}

TEST(StoreDaemon, PostgresQueryTargetsFollowTheTable) {
  HS_REQUIRE_ENV(dsn, "HS_TEST_PG_DSN");
  const std::string db = "query_" + std::to_string(std::random_device{}() % 1000000);
  ASSERT_EQ(psql(dsn, "create database " + db), "");
  const std::string db_dsn = dsn + " dbname=" + db;
  ASSERT_EQ(psql(db_dsn, "create table fleet(id text, ctr text); "
                         "insert into fleet values ('q-1', 'ctr-1'), ('q-2', null)"), "");
  {
    TempDir spool;
    Daemon d("postgres:\n  dsn: \"" + db_dsn + "\"\n  spool_dir: \"" + spool.path() + "\"\n"
             "targets:\n  postgres_query: \"select id, ctr from fleet\"\n  targets_refresh: 500ms\n");
    ASSERT_TRUE(eventually([&] { return d.get("/admin/targets/q-2").status == 200; }, 10s)) << d.log();
    EXPECT_NE(d.get("/admin/targets/q-1").body.find("\"container\":\"ctr-1\""), std::string::npos);
    psql(db_dsn, "insert into fleet values ('q-3', null); delete from fleet where id = 'q-1'");
    EXPECT_TRUE(eventually([&] {
      return d.get("/admin/targets/q-3").status == 200 && d.get("/admin/targets/q-1").status == 404; }, 10s))
        << d.log();
    // The table gone (a broken query) keeps the last list: no target removed.
    psql(db_dsn, "drop table fleet");
    ASSERT_TRUE(eventually([&] { return d.log().find("keeping the last target list") != std::string::npos; }, 10s))
        << d.log();
    EXPECT_EQ(d.get("/admin/targets/q-3").status, 200);
  }
  psql(dsn, "drop database " + db);
}
