// Found by the PostgreSQL hang test: sd_notify() sends on a blocking socket,
// so when the notify socket's queue is full (net.unix.max_dgram_qlen, 10 by
// default: the receiver, PID 1 or a test, not reading for a while) the
// daemon's whole event loop blocked in the kernel: no /healthz, no sweeps.
// The daemon's notify() never waits; a WATCHDOG=1 without room is dropped.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

TEST(FaultNotify, ANotifySocketNobodyReadsNeverStallsTheLoop) {
  Daemon::Options options;
  options.watchdog_usec = "100000";  // a ping every 50 ms
  Daemon d("", options);
  // Not reading the socket is the fault itself: 1.5 s is 30 pings, three
  // times what the queue holds.
  std::this_thread::sleep_for(1500ms);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(http_request(d.port(), "GET", "/healthz", {}, {}, 5s).status, 200) << "request " << i;
  // Reading again, the pings are there.
  const auto count = [&] {
    int n = 0;
    for (const auto& note : d.notifications()) n += note == "WATCHDOG=1";
    return n;
  };
  const int before = count();
  EXPECT_TRUE(eventually([&] { return count() > before; }, 5s));
}
