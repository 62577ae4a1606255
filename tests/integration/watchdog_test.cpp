// The systemd watchdog watches the daemon, not its dependencies (SPEC
// section 7): WATCHDOG=1 goes on through a Redis or engine outage, which
// shows as a stale subsystem in /admin/liveness instead; a process that does
// not run (SIGSTOP) sends none. A real daemon with NOTIFY_SOCKET bound by the
// test and WATCHDOG_USEC set, as systemd would.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/support/daemon.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

// WatchdogSec=0.4s: the daemon pings every 0.2 s.
constexpr const char* watchdog_usec = "400000";

int pings(Daemon& d) {
  int n = 0;
  for (const auto& note : d.notifications()) n += note == "WATCHDOG=1";
  return n;
}

// A loopback port bound but never listening: every connect is refused, and
// no other process can take the port while the test holds it.
class DeadPort {
 public:
  DeadPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot bind a loopback port");
    port_ = ntohs(a.sin_port);
  }
  ~DeadPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The state letter of /proc/PID/stat ('T' once SIGSTOP has taken effect).
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

bool names_stale(const HttpResponse& r, const std::string& subsystem) {
  return r.status == 503 && r.body.find("\"" + subsystem + "\":{\"status\":\"stale\"") != std::string::npos;
}

// Reads the notify socket before each request: sd_notify blocks the daemon
// when the socket's queue (net.unix.max_dgram_qlen, 10 here) is full, and a
// test waiting for an answer while it does not read would deadlock with it.
bool liveness_names_stale(Daemon& d, const std::string& subsystem) {
  d.notifications();
  return names_stale(d.get("/admin/liveness"), subsystem);
}

}  // namespace

TEST(Watchdog, FedThroughARedisOutageWhileLivenessNamesRedisStale) {
  DeadPort redis;
  Daemon::Options o;
  o.watchdog_usec = watchdog_usec;
  // redis goes stale after max(stale_after, 2 x reconcile_interval + 5 s) =
  // 5.4 s without an answer; systemd would have killed the daemon
  // WatchdogSec (0.4 s) after the last ping.
  Daemon d("redis:\n  url: \"redis://127.0.0.1:" + std::to_string(redis.port()) + "/0\"\n"
           "  reconcile_interval: 200ms\n"
           "liveness: { stale_after: 1s }\n", o);
  ASSERT_TRUE(eventually([&] { return liveness_names_stale(d, "redis"); }, 60s))
      << d.get("/admin/liveness").body << "\n" << d.log();
  EXPECT_NE(d.log().find("passive: cannot connect to redis"), std::string::npos) << d.log();

  // Pings go on with redis stale: ten more (2 s at 0.2 s), several WatchdogSec.
  const int at_stale = pings(d);
  EXPECT_TRUE(eventually([&] { return pings(d) >= at_stale + 10 || !d.process().running(); }, 30s))
      << "pings stopped at " << pings(d) << "\n" << d.log();
  EXPECT_TRUE(d.process().running());
  const auto liveness = d.get("/admin/liveness");
  EXPECT_TRUE(names_stale(liveness, "redis")) << liveness.body;
  EXPECT_TRUE(names_stale(liveness, "passive")) << liveness.body;
  EXPECT_NE(d.get("/metrics").body.find("healthsweep_subsystem_up{subsystem=\"redis\"} 0"), std::string::npos);
  EXPECT_EQ(d.log().find("not feeding the watchdog"), std::string::npos) << d.log();
}

TEST(Watchdog, FedWhileTheEngineIsUnreachable) {
  // An engine socket nobody serves: engine and proactive go stale after
  // stale_after, and the poll loop keeps turning (each sweep fails fast).
  Daemon::Options o;
  o.watchdog_usec = watchdog_usec;
  Daemon d("engine:\n  socket: /nonexistent/engine.sock\n"
           "sweeps:\n  proactive: { interval: 300ms, timeout: 200ms }\n"
           "liveness: { stale_after: 1s }\n", o);
  ASSERT_TRUE(eventually([&] { return liveness_names_stale(d, "engine"); }, 30s)) << d.log();
  const int at_stale = pings(d);
  EXPECT_TRUE(eventually([&] { return pings(d) >= at_stale + 10 || !d.process().running(); }, 30s))
      << "pings stopped at " << pings(d) << "\n" << d.log();
  EXPECT_TRUE(names_stale(d.get("/admin/liveness"), "engine"));
  EXPECT_EQ(d.get("/healthz").status, 200);
  EXPECT_EQ(d.log().find("not feeding the watchdog"), std::string::npos) << d.log();
}

TEST(Watchdog, AStoppedProcessSendsNoPingsAndResumesAfterSigcont) {
  Daemon::Options o;
  o.watchdog_usec = watchdog_usec;
  Daemon d("", o);
  ASSERT_TRUE(eventually([&] { return pings(d) >= 2; }, 20s)) << d.log();

  const pid_t pid = d.process().pid();
  d.process().signal(SIGSTOP);
  struct Continue {  // whatever fails below, the daemon is not left stopped
    pid_t pid;
    ~Continue() { kill(pid, SIGCONT); }
  } guard{pid};
  ASSERT_TRUE(eventually([&] { return process_state(pid) == 'T'; }, 10s)) << process_state(pid);
  const int at_stop = pings(d);  // what was sent before the stop took effect
  // An absence needs a window: three watchdog periods (WatchdogSec would
  // have expired twice over); nothing may arrive meanwhile.
  EXPECT_TRUE(holds_for(1200ms, [&] { return pings(d) == at_stop; })) << "pings from a stopped process";

  kill(pid, SIGCONT);
  EXPECT_TRUE(eventually([&] { return pings(d) > at_stop; }, 10s)) << d.log();
  EXPECT_EQ(d.get("/healthz").status, 200);
}
