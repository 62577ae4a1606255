// Issue 13 section 4, wall-clock jumps: the real daemon under libfaketime
// (Debian's, the offset in a file the test rewrites), a real Redis on the
// real clock, targets that really heart-beat. The daemon's wall clock steps
// by an hour forwards and backwards while the fleet is healthy and while
// heartbeats lapse: no verdict and no restart may come from a step, and a
// lapse is still caught at its deadline (every deadline is on steady_clock;
// CLOCK_MONOTONIC is left alone, as a real step of the wall clock leaves it).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/fault_fleet.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string libfaketime_path() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                        "/usr/lib/faketime/libfaketimeMT.so.1"})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// The daemon's wall clock: the real one plus an offset the test sets.
class FakeWallClock {
 public:
  FakeWallClock() : file_(dir_.file("faketime.rc")) { set(0); }
  // Replaced whole (rename): libfaketime re-reads it on every clock call
  // (FAKETIME_NO_CACHE) and must never see it half written.
  void set(int seconds) {
    // Built by append: g++ 12 warns (-Wrestrict, a false positive) on "+" + std::to_string().
    dir_.write("faketime.new", std::string(seconds >= 0 ? "+" : "").append(std::to_string(seconds)).append("\n"));
    std::filesystem::rename(dir_.file("faketime.new"), file_);
  }
  std::vector<std::string> env(const std::string& libfaketime) const {
    // The MT variant: the daemon has threads (Asio's resolver). Our shim
    // first: it keeps libfaketime's hands off the monotonic timerfd.
    std::vector<std::string> env{"LD_PRELOAD=" + std::string(HS_TIMERFD_PASSTHROUGH) + ":" + libfaketime,
                                 "FAKETIME_TIMESTAMP_FILE=" + file_, "FAKETIME_NO_CACHE=1",
                                 "FAKETIME_DONT_FAKE_MONOTONIC=1"};
#ifdef HS_SANITIZED
    // The sanitized daemon links ASan's runtime dynamically; preloaded
    // libraries come before it, which ASan refuses unless told the order is
    // intended (the preloads only wrap clock calls, nothing ASan intercepts).
    env.push_back("ASAN_OPTIONS=verify_asan_link_order=0:halt_on_error=1:detect_leaks=1");
#endif
    return env;
  }

 private:
  TempDir dir_;
  std::string file_;
};

// libfaketime leaves its per-process shared memory behind when the process
// does not exit through its destructor; removed whatever happened.
struct FaketimeLeftovers {
  pid_t pid = -1;
  ~FaketimeLeftovers() {
    if (pid <= 0) return;
    std::filesystem::remove("/dev/shm/faketime_shm_" + std::to_string(pid));
    std::filesystem::remove("/dev/shm/sem.faketime_sem_" + std::to_string(pid));
  }
};

constexpr auto ttl = 3000ms;
constexpr auto period = 500ms;

}  // namespace

TEST(ClockJump, HourStepsOfTheWallClockCauseNoVerdictNoRestartAndLapsesAreStillCaught) {
  const auto libfaketime = libfaketime_path();
  if (libfaketime.empty()) {
    if (in_ci()) GTEST_FAIL() << "libfaketime is not installed (CI=true): apt-get install libfaketime";
    GTEST_SKIP() << "SKIPPED LOUDLY: libfaketime is not installed (scripts/test installs faketime)";
  }
  HS_REQUIRE_REDIS(redis);
  const auto ids = fleet_ids("cj-", 8);
  Heartbeater hb(*redis, ids, ttl, period);
  StatusServer hook(200);
  ASSERT_NE(hook.port, 0) << hook.process.log();
  FakeWallClock clock;
  FaketimeLeftovers leftovers;
  Daemon::Options opts;
  opts.extra_env = clock.env(libfaketime);
  Daemon d("redis:\n  url: \"" + redis->url() + "\"\n  reconcile_interval: 1s\n" + static_targets_yaml(ids) +
               webhook_remediation_yaml(hook.url("/restart"), "min_targets: 1000") + "liveness: { stale_after: 5s }\n",
           opts);
  leftovers.pid = d.process().pid();
  ASSERT_TRUE(eventually([&] { return not_in_state(d, ids, "online").empty(); }, 20s)) << d.log();
  auto cli = redis->client();

  const auto reconciles = [&] {
    return metric(d, "healthsweep_sweep_runs_total{result=\"ok\",sweep=\"passive_reconcile\"}");
  };
  // The step is in effect once the daemon's own clock shows it.
  const auto step_to = [&](int seconds) {
    clock.set(seconds);
    ASSERT_TRUE(eventually([&] {
      const auto off = daemon_wall_offset(d);
      return off && std::abs(*off - seconds) < 120;
    }, 15s)) << "the daemon's wall clock never showed " << seconds << " s; log:\n" << d.log();
  };
  // Long enough that every key passed a deadline of its own since the step
  // (two TTLs of heart-beats) and the daemon reconciled three times.
  const auto hold_steady = [&](const std::string& when, const std::vector<std::string>& live,
                               const std::map<std::string, int>& orders, double offline) {
    const double r0 = reconciles();
    ASSERT_TRUE(hb.wait_rounds(2 * ttl / period));
    ASSERT_TRUE(eventually([&] { return reconciles() >= r0 + 3; }, 30s)) << d.log();
    EXPECT_EQ(not_in_state(d, live, "online"), std::vector<std::string>{}) << when << "\n" << d.log();
    EXPECT_EQ(offline_transitions(d), offline) << when << "\n" << d.log();
    EXPECT_EQ(restart_orders(hook), orders) << when;
    EXPECT_EQ(d.get("/admin/liveness").status, 200) << when << ": " << d.get("/admin/liveness").body;
  };

  // A healthy fleet: an hour forwards, then two hours back.
  ASSERT_NO_FATAL_FAILURE(step_to(3600));
  ASSERT_NO_FATAL_FAILURE(hold_steady("after +1 h", ids, {}, 0));
  ASSERT_NO_FATAL_FAILURE(step_to(-3600));
  ASSERT_NO_FATAL_FAILURE(hold_steady("after -2 h (to -1 h)", ids, {}, 0));

  // Lapses across a step: the targets stop, the clock steps before their
  // keys run out. While a key still exists the target is online (a state
  // read before Redis still had the key cannot be a verdict from Redis).
  const auto lapse_across_step = [&](const std::vector<std::string>& dying, int step) {
    for (const auto& id : dying) hb.die(id);
    ASSERT_NO_FATAL_FAILURE(step_to(step));
    for (const auto& id : dying) {
      const auto state = state_of(d, id);
      if (cli->integer({"PTTL", "healthsweep:heartbeat:" + id}) > 0) {
        EXPECT_EQ(state, "online") << id << " judged while its key still existed\n" << d.log();
      }
    }
    // offline at the deadline, then the restart order (settle 0 s).
    ASSERT_TRUE(eventually([&] { return not_in_state(d, dying, "restarting").empty(); }, 20s)) << d.log();
  };
  ASSERT_NO_FATAL_FAILURE(lapse_across_step({"cj-0", "cj-1"}, 3600));  // two hours forwards
  const std::vector<std::string> rest1(ids.begin() + 2, ids.end());
  ASSERT_NO_FATAL_FAILURE(hold_steady("after lapses across +2 h", rest1, once_each({"cj-0", "cj-1"}), 2));
  ASSERT_NO_FATAL_FAILURE(lapse_across_step({"cj-2"}, -3600));  // two hours back
  const std::vector<std::string> rest2(ids.begin() + 3, ids.end());
  ASSERT_NO_FATAL_FAILURE(hold_steady("after a lapse across -2 h", rest2, once_each({"cj-0", "cj-1", "cj-2"}), 3));
  // Each went offline because its heartbeat ran out, and only then.
  const auto log = d.log();
  for (const char* id : {"cj-0", "cj-1", "cj-2"})
    EXPECT_NE(log.find(std::string("target ") + id + ": online -> offline (passive: heartbeat expired)"),
              std::string::npos) << id << "\n" << log;
}
