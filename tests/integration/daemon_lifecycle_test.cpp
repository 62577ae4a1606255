// The process lifecycle: command line, config errors, READY/STOPPING, reload
// on SIGHUP, graceful stop on SIGTERM, the watchdog.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "tests/support/daemon.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

int run_daemon(const std::string& args, std::string* out) {
  return run_shell(std::string(HEALTHSWEEPD_PATH) + " " + args, out);
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(DaemonLifecycle, VersionPrintsAndExitsZero) {
  std::string out;
  EXPECT_EQ(run_daemon("--version", &out), 0);
  EXPECT_EQ(out.rfind("healthsweepd ", 0), 0u) << out;
}

TEST(DaemonLifecycle, ShippedConfigIsValid) {
  std::string out;
  EXPECT_EQ(run_daemon(std::string("--check-config ") + HS_SOURCE_DIR + "/config/healthsweep.yaml", &out), 0)
      << out;
}

TEST(DaemonLifecycle, InvalidConfigExitsTwoWithPathLineColumn) {
  TempDir dir;
  const auto path = dir.write("bad.yaml", "listen: \"127.0.0.1:9470\"\nlog:\n  levle: info\nshutdown_grace: 10 parsecs\n");
  std::string out;
  EXPECT_EQ(run_daemon("--check-config " + path, &out), 2);
  EXPECT_NE(out.find(path + ":3:3: "), std::string::npos) << out;
  EXPECT_NE(out.find(path + ":4:17: "), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_daemon("--config " + path, &out), 2) << "never starts half-configured";
}

TEST(DaemonLifecycle, MissingConfigFileExitsTwo) {
  std::string out;
  EXPECT_EQ(run_daemon("--check-config /nonexistent/healthsweep.yaml", &out), 2);
  EXPECT_NE(out.find("/nonexistent/healthsweep.yaml:1:1: "), std::string::npos) << out;
}

TEST(DaemonLifecycle, UnknownArgumentExitsTwo) {
  std::string out;
  EXPECT_EQ(run_daemon("--frobnicate", &out), 2);
}

TEST(DaemonLifecycle, WhatTheEnvironmentRefusesAtStartExitsOneWithOneLine) {
  // A spool directory that cannot be created: a clear line and exit 1 (the
  // config is valid; systemd's Restart= may retry), never an abort.
  TempDir dir;
  const auto path = dir.write("spool.yaml", "listen: \"127.0.0.1:0\"\n"
                                            "postgres:\n  dsn: \"host=127.0.0.1 port=1 dbname=x\"\n"
                                            "  spool_dir: /proc/healthsweep-test/spool\n");
  std::string out;
  EXPECT_EQ(run_daemon("--config " + path + " 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("healthsweepd: spool: cannot create /proc/healthsweep-test/spool"), std::string::npos) << out;
  EXPECT_EQ(out.find("terminate called"), std::string::npos) << out;
}

TEST(DaemonLifecycle, ReadyIsSentAfterTheListenerIsUp) {
  Daemon d("");
  ASSERT_TRUE(d.wait_notification("READY=1", 1s));
  EXPECT_EQ(d.get("/healthz").status, 200);
  std::printf("[ measured ] start to READY=1: %.1f ms\n", d.time_to_ready().count() / 1000.0);
}

TEST(DaemonLifecycle, SigtermStopsGracefullyWithExitZeroAndStopping) {
  Daemon d("shutdown_grace: 3s\n");
  d.process().signal(SIGTERM);
  const auto status = d.process().wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << d.log();
  EXPECT_TRUE(d.wait_notification("STOPPING=1", 1s));
}

TEST(DaemonLifecycle, SigintStopsToo) {
  Daemon d("");
  d.process().signal(SIGINT);
  const auto status = d.process().wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
}

TEST(DaemonLifecycle, SighupReloadsAGoodConfigAndKeepsTheOldOnABadOne) {
  Daemon d("log:\n  level: info\n");
  // good: log level changes to debug
  d.write_config("log:\n  level: debug\n");
  d.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return d.get("/metrics").body.find(
      "healthsweep_config_reloads_total{result=\"ok\"} 1") != std::string::npos; }, 10s))
      << d.log();
  // bad: rejected with the location, old config kept, daemon keeps serving
  d.write_config("log:\n  level: loud\n");
  d.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return d.get("/metrics").body.find(
      "healthsweep_config_reloads_total{result=\"error\"} 1") != std::string::npos; }, 10s))
      << d.log();
  // The log line follows the counter: the log thread writes it (the async
  // sink), after the loop has counted the rejection.
  EXPECT_TRUE(eventually([&] { return d.log().find(d.config_path() + ":3:10: ") != std::string::npos; }, 5s))
      << d.log();
  EXPECT_TRUE(d.process().running());
  EXPECT_EQ(d.get("/healthz").status, 200);
}

TEST(DaemonLifecycle, WatchdogIsFedAtHalfTheIntervalWhileFresh) {
  Daemon::Options o;
  o.watchdog_usec = "400000";  // 0.4 s: pings every 0.2 s
  const auto started = std::chrono::steady_clock::now();
  Daemon d("", o);
  const auto count = [&] {  // notifications() holds every message so far
    int pings = 0;
    for (const auto& n : d.notifications()) pings += n == "WATCHDOG=1";
    return pings;
  };
  ASSERT_TRUE(eventually([&] { return count() >= 4; }, 30s)) << d.log();
  // Not faster than half the interval: a slow machine sends fewer pings,
  // never more, so this bound cannot fail from load.
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LE(count(), 2 + static_cast<int>(elapsed / 200ms)) << d.log();
}

TEST(DaemonLifecycle, JsonLogFormatWritesOneObjectPerLine) {
  Daemon d("log:\n  format: json\n");
  d.process().signal(SIGTERM);
  d.process().wait_exit(10s);
  const auto log = d.log();
  EXPECT_GE(count(log, "{\"ts\":\""), 2) << log;
  EXPECT_EQ(count(log, "\n"), count(log, "}\n")) << log;
}

// A stale subsystem and the watchdog: tests/integration/watchdog_test.cpp.

TEST(DaemonLifecycle, SighupAppliesANewStaticTargetList) {
  Daemon d("targets:\n  static:\n    - { id: old-1 }\n    - { id: both-1 }\n");
  ASSERT_EQ(d.get("/admin/targets/old-1").status, 200);
  d.write_config("targets:\n  static:\n    - { id: both-1 }\n    - { id: new-1, paused: true }\n");
  d.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return d.get("/admin/targets/new-1").status == 200; }, 10s)) << d.log();
  EXPECT_EQ(d.get("/admin/targets/old-1").status, 404);
  EXPECT_EQ(d.get("/admin/targets/both-1").status, 200);
  EXPECT_NE(d.get("/admin/targets/new-1").body.find("\"state\":\"paused\""), std::string::npos);
  // The log goes through the async sink's thread: the line may reach stderr
  // a moment after the answers above (it did not in time once under ASan).
  EXPECT_TRUE(eventually([&] { return d.log().find("target old-1 removed") != std::string::npos; }, 10s))
      << d.log();
}
