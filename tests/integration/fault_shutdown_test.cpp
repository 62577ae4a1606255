// Issue 13 section 4: SIGTERM with work in flight. 334 targets online, then
// their TCP port closes: each goes suspect, offline and restarting (1,002
// events) with a restart order to a webhook that answers 0.5 s later (16
// orders at a time: the webhook client's cap, so most wait), while a
// lock held by the test keeps every event queued for PostgreSQL. SIGTERM
// then: the orders finish within shutdown_grace, the events are written (the
// lock released once the daemon is stopping) or stay in the spool (the lock
// held past the grace); nothing lost; exit 0.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "tests/integration/faults_support.hpp"
#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int fleet_size = 334;
constexpr int burst = 3 * fleet_size;  // online > suspect > offline > restarting

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

void sigterm_with_work_in_flight(bool release_lock, std::chrono::seconds grace) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server, release_lock ? "term_written" : "term_spooled");
  TempDir spool;
  TcpListener alive;
  StatusServer hook(200);
  ASSERT_NE(hook.port, 0) << hook.process.log();
  hook.dir.write("status.delay", "0.5");
  const std::string config =
      store_section(db.dsn(), spool.path()) + dying_fleet(fleet_size, alive.port()) +
      "remediation:\n  restart:\n    via: webhook\n    webhook_url: \"" + hook.url("/restart") + "\"\n"
      "    settle: 0s\n    startup_grace: 1h\n  fail_safe: { min_targets: 100000 }\n"
      "shutdown_grace: " + std::to_string(grace.count()) + "s\n";
  Daemon d(config);
  ASSERT_TRUE(eventually([&] {
    return metric_sum(d, "healthsweep_transitions_total") == fleet_size &&
           metric(d, "healthsweep_store_spool_events") == 0;
  }, 120s)) << d.log();
  const std::string boot = boot_of(db_events(db.dsn()).front());

  // Every write of an event waits for this lock from now on.
  PgSession locker(db.dsn());
  locker.query("BEGIN");
  locker.query("LOCK TABLE healthsweep_events IN EXCLUSIVE MODE");
  alive.close();
  ASSERT_TRUE(eventually([&] {
    return metric_sum(d, "healthsweep_transitions_total") == fleet_size + burst &&
           lines(hook.posts()) > 0;
  }, 60s)) << "transitions " << metric_sum(d, "healthsweep_transitions_total") << ", orders "
             << lines(hook.posts()) << "\n" << d.get("/metrics").body;
  const double queued = metric(d, "healthsweep_store_spool_events");
  const auto answered_before = lines(read_file(hook.status_file + ".answered"));
  d.process().signal(SIGTERM);
  const auto sent = std::chrono::steady_clock::now();
  EXPECT_GE(queued, burst) << "1,000 events queued for PostgreSQL at the SIGTERM";
  EXPECT_LT(answered_before, static_cast<std::size_t>(fleet_size)) << "restart orders in flight at the SIGTERM";
  if (release_lock) {
    ASSERT_TRUE(eventually([&] { return d.log().find("stopping (grace") != std::string::npos; }, 10s));
    locker.query("COMMIT");
  }
  EXPECT_EQ(d.process().wait_exit(grace + 30s), 0) << d.log();
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_LT(took, grace + 5s) << "within shutdown_grace (plus a hang margin)";
  if (!release_lock) locker.query("COMMIT");

  const auto log = d.log();
  EXPECT_EQ(count_of(log, ": webhook done:"), static_cast<std::size_t>(fleet_size))
      << "every order finished before the exit";
  EXPECT_EQ(lines(hook.posts()), static_cast<std::size_t>(fleet_size));
  const auto spooled = read_spool_text(read_file(spool.file("events.jsonl")));
  EXPECT_EQ(spooled.corrupt, 0u);
  EXPECT_FALSE(spooled.torn_tail);
  if (release_lock) {
    EXPECT_TRUE(spooled.events.empty()) << spooled.events.size() << " events left: they were to be written";
  } else {
    EXPECT_GE(spooled.events.size(), static_cast<std::size_t>(burst - 1)) << "held by the lock: they stay in the spool";
  }
  // Nothing lost: what PostgreSQL holds and what the spool holds make every
  // event of the run, each target's an unbroken chain.
  auto known = of_boot(db_events(db.dsn()), boot);
  const auto in_db = ids_of(known);
  for (const auto& e : spooled.events)
    if (!in_db.count(e.event_id)) known.push_back(e);
  EXPECT_EQ(known.size(), static_cast<std::size_t>(fleet_size + burst));
  EXPECT_EQ(chain_breaks(known), "");

  // The next start writes what the spool kept, each event exactly once.
  Daemon next(store_section(db.dsn(), spool.path()));
  ASSERT_TRUE(eventually([&] { return metric(next, "healthsweep_store_spool_events") == 0; }, 120s)) << next.log();
  const auto stored = db_events(db.dsn());
  EXPECT_EQ(duplicate_ids(stored), std::vector<std::string>{});
  EXPECT_EQ(of_boot(stored, boot).size(), static_cast<std::size_t>(fleet_size + burst));
  EXPECT_EQ(chain_breaks(stored), "") << "written in order";
}

}  // namespace

TEST(FaultShutdown, SigtermWithOrdersAndEventsInFlightFinishesThemWithinTheGraceAndExits0) {
  sigterm_with_work_in_flight(/*release_lock=*/true, 60s);
}

TEST(FaultShutdown, SigtermWithPostgresBlockedKeepsTheEventsInTheSpoolAndExits0) {
  sigterm_with_work_in_flight(/*release_lock=*/false, 20s);
}
