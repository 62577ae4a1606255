// Issue 13 section 4: the spool's disk fills. The spool directory is a
// 64 KiB tmpfs the test mounts (about 180 events fit); PostgreSQL is
// unreachable, so all 1,000 events of a burst must go through the spool.
// While it is full: one error line for the outage, the failures counted in a
// metric, every event kept in memory (bounded queue, none dropped), only
// whole lines in the file. Once space returns, the events kept in memory are
// in the file (a kill -9 then loses none) and a restart with PostgreSQL up
// writes each exactly once.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "tests/integration/faults_support.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int fleet_size = 500;  // 1,000 events

// A tmpfs mounted on `dir` for the test's lifetime (unmounted even when it fails).
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    mounted_ = run_shell("mount -t tmpfs -o size=" + size + ",mode=0700 tmpfs '" + dir_ + "' 2>&1", &error_) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) run_shell("umount -l '" + dir_ + "'");
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool resize(const std::string& size) {
    return run_shell("mount -o remount,size=" + size + " '" + dir_ + "'") == 0;
  }

 private:
  std::string dir_, error_;
  bool mounted_ = false;
};

}  // namespace

TEST(FaultSpoolFull, FullDiskKeepsEventsInMemoryWithOneErrorLineAndLosesNoneOnceSpaceReturns) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server, "spool_full");
  TempDir base;
  const std::string spool_dir = base.file("spool");
  TmpfsMount disk(spool_dir, "64k");
  if (!disk.mounted()) {
    if (in_ci()) GTEST_FAIL() << "cannot mount a tmpfs (CI=true): " << disk.error();
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot mount a tmpfs (needs root): " << disk.error();
  }
  const std::string spool_file = spool_dir + "/events.jsonl";
  const ClosedPort dead_db_port, dead_targets;
  const std::string dead_db = "host=127.0.0.1 port=" + std::to_string(dead_db_port.port()) + " dbname=x";
  Daemon d(store_section(dead_db, spool_dir) + dying_fleet(fleet_size, dead_targets.port()) +
           "remediation:\n  restart: { via: none }\n");
  ASSERT_TRUE(eventually([&] { return metric_sum(d, "healthsweep_transitions_total") == 2 * fleet_size; }, 60s))
      << d.log();
  EXPECT_EQ(metric(d, "healthsweep_store_spool_events"), 2 * fleet_size) << "all kept in memory";
  EXPECT_EQ(metric(d, "healthsweep_store_events_dropped_total"), 0);
  // The whole queue is tried again every second: failures go on, counted, not logged.
  ASSERT_TRUE(eventually([&] { return metric(d, "healthsweep_store_spool_write_errors_total") >= 3; }, 20s))
      << d.log();
  const auto log = d.log();
  std::size_t error_lines = 0;
  for (auto pos = log.find("events are kept in memory"); pos != std::string::npos;
       pos = log.find("events are kept in memory", pos + 1))
    ++error_lines;
  EXPECT_EQ(error_lines, 1u) << log;
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  const auto while_full = read_spool_text(read_file(spool_file));
  EXPECT_EQ(while_full.corrupt, 0u);
  EXPECT_FALSE(while_full.torn_tail) << "no partial line on a full disk";
  EXPECT_GT(while_full.events.size(), 0u);
  EXPECT_LT(while_full.events.size(), static_cast<std::size_t>(2 * fleet_size));
  EXPECT_FALSE(std::filesystem::exists(spool_file + ".tmp")) << "a failed rewrite gives its space back";

  ASSERT_TRUE(disk.resize("16m"));
  ASSERT_TRUE(eventually([&] {
    return read_spool_text(read_file(spool_file)).events.size() == 2 * fleet_size;
  }, 20s)) << d.log();
  EXPECT_TRUE(eventually([&] { return d.log().find("written again") != std::string::npos; }, 5s));
  const auto after = read_spool_text(read_file(spool_file));
  EXPECT_EQ(after.corrupt, 0u);
  EXPECT_EQ(chain_breaks(after.events), "") << "in order, none missing";
  // Memory gone: only the file can still hold them.
  d.process().signal(SIGKILL);
  ASSERT_EQ(d.process().wait_exit(10s), 128 + SIGKILL);

  Daemon next(store_section(db.dsn(), spool_dir));
  ASSERT_TRUE(eventually([&] { return metric(next, "healthsweep_store_spool_events") == 0; }, 120s)) << next.log();
  const auto stored = db_events(db.dsn());
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(2 * fleet_size));
  EXPECT_EQ(duplicate_ids(stored), std::vector<std::string>{});
  EXPECT_EQ(ids_of(stored), ids_of(after.events));
  EXPECT_EQ(chain_breaks(stored), "");
}
