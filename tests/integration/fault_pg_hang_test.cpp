// Issue 13 section 4: PostgreSQL hung (SIGSTOP of the postmaster and every
// backend, for 30 s: connections stay open, nothing answers) and then
// restarted (SIGKILL, crash recovery), through the whole daemon. Meanwhile
// the event loop never stalls (/healthz answers every time within a hang
// bound, WATCHDOG=1 keeps coming, the 200 transitions of the targets dying
// during the hang are made), `store` goes stale in /admin/liveness; after
// the restart the events drain, in order, each once.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "tests/integration/faults_support.hpp"
#include "tests/integration/private_postgres.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int fleet_size = 100;
constexpr auto hang = 30s;

std::size_t watchdog_pings(Daemon& d) {
  const auto notes = d.notifications();
  return static_cast<std::size_t>(std::count(notes.begin(), notes.end(), "WATCHDOG=1"));
}

long sequence_of(const FaultEvent& e) { return std::stol(e.event_id.substr(e.event_id.find('-') + 1)); }

}  // namespace

TEST(FaultPostgresHang, HungThenRestartedPostgresNeverStallsTheLoopAndEventsDrainInOrder) {
  PrivatePostgres pg;
  if (!pg.started()) {
    if (in_ci()) GTEST_FAIL() << "a private PostgreSQL did not start (CI=true): " << pg.error();
    GTEST_SKIP() << "SKIPPED LOUDLY: a private PostgreSQL did not start: " << pg.error();
  }
  TempDir spool;
  TcpListener alive;
  Daemon::Options options;
  options.watchdog_usec = "2000000";  // a ping a second
  Daemon d(store_section(pg.dsn(), spool.path()) + dying_fleet(fleet_size, alive.port()) +
               "remediation:\n  restart: { via: none }\nliveness: { stale_after: 2s }\n",
           options);
  ASSERT_TRUE(eventually([&] {
    return metric_sum(d, "healthsweep_transitions_total") == fleet_size &&
           metric(d, "healthsweep_store_spool_events") == 0;
  }, 60s)) << d.log();
  ASSERT_EQ(d.get("/admin/liveness").status, 200) << d.get("/admin/liveness").body;

  pg.signal_all(SIGSTOP);
  const auto hung_at = std::chrono::steady_clock::now();
  alive.close();  // the targets die while PostgreSQL hangs
  std::size_t answered = 0, unanswered = 0;
  bool went_stale = false;
  const auto pings_before = watchdog_pings(d);
  while (std::chrono::steady_clock::now() - hung_at < hang) {
    // A hang bound, not a latency threshold: a stalled loop answers nothing.
    const auto r = http_request(d.port(), "GET", "/healthz", {}, {}, 2s);
    ++(r.status == 200 ? answered : unanswered);
    const auto live = d.get("/admin/liveness");
    if (live.status == 503 && live.body.find("\"store\":{\"status\":\"stale\"") != std::string::npos)
      went_stale = true;
    watchdog_pings(d);  // reads the notify socket, as systemd would
    std::this_thread::sleep_for(100ms);  // pacing of the probe, not synchronisation
  }
  EXPECT_EQ(unanswered, 0u) << "/healthz unanswered during the hang";
  EXPECT_GT(answered, 0u);
  EXPECT_TRUE(went_stale) << d.get("/admin/liveness").body;
  EXPECT_GE(watchdog_pings(d), pings_before + 20) << "WATCHDOG=1 about every second through the hang";
  EXPECT_EQ(metric_sum(d, "healthsweep_transitions_total"), 3 * fleet_size) << "verdicts go on";
  EXPECT_EQ(metric(d, "healthsweep_store_spool_events"), 2 * fleet_size) << "waiting for PostgreSQL";

  ASSERT_TRUE(pg.restart()) << pg.error();
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_store_spool_events") == 0; }, 120s)) << d.log();
  EXPECT_TRUE(eventually([&] { return d.get("/admin/liveness").status == 200; }, 20s))
      << d.get("/admin/liveness").body;
  const auto stored = db_events(pg.dsn());
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(3 * fleet_size));
  EXPECT_EQ(duplicate_ids(stored), std::vector<std::string>{});
  EXPECT_EQ(chain_breaks(stored), "");
  EXPECT_TRUE(std::is_sorted(stored.begin(), stored.end(),
                             [](const auto& a, const auto& b) { return sequence_of(a) < sequence_of(b); }))
      << "written in the order they happened";
}
