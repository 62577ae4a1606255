// ProcessExitWatch on real child processes (pidfds of this test's own
// children), with the identity check replaced: the cgroup check itself is
// tested on cgroup texts here and on real Podman containers in
// tests/integration/process_exit_watch_test.cpp.
#include "sweeps/proactive/process_exit_watch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

using namespace healthsweep::sweeps::proactive;

using healthsweep::sweeps::proactive::cgroup_names_container;
using healthsweep::sweeps::proactive::ProcessExit;
using healthsweep::sweeps::proactive::ProcessExitWatch;
using healthsweep::sweeps::proactive::WatchResult;
using namespace std::chrono_literals;

namespace {

const std::string id_a = "f82e9ef9d1b153094fd6d375fca65f8d88ccaa3cd60f2c4f0f390fa71e365ad9";
const std::string id_b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A child that sleeps until killed; reaped by the destructor.
struct Child {
  pid_t pid = ::fork();
  Child() {
    if (pid == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  void kill() { if (pid > 0) ::kill(pid, SIGKILL); }
  ~Child() {
    kill();
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

struct ExitWatch : ::testing::Test {
  boost::asio::io_context ioc;
  std::vector<ProcessExit> exits;
  bool identify_ok = true;
  ProcessExitWatch watch{ioc.get_executor(), [this](const ProcessExit& e) { exits.push_back(e); }, 3,
                         [this](int, const std::string&) { return identify_ok; }};

  void run_for(std::chrono::milliseconds d) {
    ioc.restart();
    ioc.run_for(d);
  }
  void run_until_exits(std::size_t n) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (exits.size() < n && std::chrono::steady_clock::now() < until) run_for(10ms);
  }
};

}  // namespace

TEST(CgroupNamesContainer, FindsTheFullIdAsAPathElementOrScope) {
  EXPECT_TRUE(cgroup_names_container("0::/libpod_parent/libpod-" + id_a + "\n", id_a));
  EXPECT_TRUE(cgroup_names_container("0::/system.slice/docker-" + id_a + ".scope\n", id_a));
  EXPECT_TRUE(cgroup_names_container("12:pids:/docker/" + id_a + "\n0::/docker/" + id_a, id_a));
  EXPECT_TRUE(cgroup_names_container("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" +
                                         id_a + ".scope/container\n", id_a));
  EXPECT_TRUE(cgroup_names_container("0::/kubepods/besteffort/pod1/" + id_a + "\n", id_a));
}

TEST(CgroupNamesContainer, RefusesOtherContainersShortIdsNamesAndEmbeddedMatches) {
  EXPECT_FALSE(cgroup_names_container("0::/libpod_parent/libpod-" + id_a + "\n", id_b));
  EXPECT_FALSE(cgroup_names_container("0::/init.scope\n", id_a));
  EXPECT_FALSE(cgroup_names_container("0::/\n", id_a));
  EXPECT_FALSE(cgroup_names_container("", id_a));
  // A short id or a name could match by accident: never trusted.
  EXPECT_FALSE(cgroup_names_container("0::/docker/f82e9ef9d1b1\n", "f82e9ef9d1b1"));
  EXPECT_FALSE(cgroup_names_container("0::/system.slice/web.scope\n", "web"));
  EXPECT_FALSE(cgroup_names_container("0::/docker/" + id_a + "\n", ""));
  // The id inside a longer hex string is not the id.
  EXPECT_FALSE(cgroup_names_container("0::/docker/" + id_a + "ff\n", id_a));
  EXPECT_FALSE(cgroup_names_container("0::/docker/ff" + id_a + "\n", id_a));
}

TEST(ProcessExitWatch, ThisKernelHasPidfds) {
  // Linux >= 5.3; every machine this daemon is tested on has it. Without it
  // the daemon runs on (events and polls) and says so at start.
  EXPECT_TRUE(ProcessExitWatch::supported());
}

TEST_F(ExitWatch, ExitOfAWatchedProcessIsReportedOnceWithItsKeyAndPid) {
  Child c;
  ASSERT_EQ(watch.watch("t1", id_a, c.pid), WatchResult::armed);
  EXPECT_TRUE(watch.watching("t1", id_a));
  EXPECT_FALSE(watch.watching("t1", id_b));
  run_for(20ms);
  EXPECT_TRUE(exits.empty()) << "alive: nothing to report";
  const auto killed = std::chrono::steady_clock::now();
  c.kill();
  run_until_exits(1);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].key, "t1");
  EXPECT_EQ(exits[0].container_id, id_a);
  EXPECT_EQ(exits[0].pid, c.pid);
  EXPECT_GE(exits[0].when, killed);
  EXPECT_EQ(watch.size(), 0u) << "a watch fires once and is gone";
  run_for(20ms);
  EXPECT_EQ(exits.size(), 1u);
}

TEST_F(ExitWatch, AProcessThatIsNotTheContainersIsNotWatched) {
  Child c;
  identify_ok = false;
  EXPECT_EQ(watch.watch("t1", id_a, c.pid), WatchResult::not_container);
  EXPECT_EQ(watch.size(), 0u);
  c.kill();
  run_for(50ms);
  EXPECT_TRUE(exits.empty());
}

TEST_F(ExitWatch, AProcessAlreadyGoneIsGone) {
  pid_t pid;
  {
    Child c;
    pid = c.pid;
  }  // killed and reaped
  EXPECT_EQ(watch.watch("t1", id_a, pid), WatchResult::gone);
  EXPECT_EQ(watch.watch("t1", id_a, 0), WatchResult::unsupported);
  EXPECT_EQ(watch.size(), 0u);
}

TEST_F(ExitWatch, ReplacingForgettingAndStoppingSilenceTheOldWatch) {
  Child old_process, new_process, forgotten, last;
  ASSERT_EQ(watch.watch("t1", id_a, old_process.pid), WatchResult::armed);
  ASSERT_EQ(watch.watch("t1", id_a, old_process.pid), WatchResult::armed) << "the same process again";
  ASSERT_EQ(watch.watch("t1", id_b, new_process.pid), WatchResult::armed) << "the target's new container";
  ASSERT_EQ(watch.watch("t2", id_a, forgotten.pid), WatchResult::armed);
  EXPECT_EQ(watch.size(), 2u);
  watch.forget("t2");
  old_process.kill();
  forgotten.kill();
  run_for(50ms);
  EXPECT_TRUE(exits.empty()) << "replaced and forgotten watches say nothing";

  new_process.kill();
  run_until_exits(1);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].pid, new_process.pid);
  EXPECT_EQ(exits[0].container_id, id_b);

  ASSERT_EQ(watch.watch("t3", id_a, last.pid), WatchResult::armed);
  watch.retain([](const std::string& key) { return key != "t3"; });
  EXPECT_EQ(watch.size(), 0u);
  ASSERT_EQ(watch.watch("t3", id_a, last.pid), WatchResult::armed);
  watch.stop();
  last.kill();
  run_for(50ms);
  EXPECT_EQ(exits.size(), 1u);
  EXPECT_EQ(watch.watch("t4", id_a, new_process.pid), WatchResult::unsupported) << "stopped";
}

TEST_F(ExitWatch, TheNumberOfWatchesIsBounded) {
  Child a, b, c, d;
  ASSERT_EQ(watch.watch("a", id_a, a.pid), WatchResult::armed);
  ASSERT_EQ(watch.watch("b", id_a, b.pid), WatchResult::armed);
  ASSERT_EQ(watch.watch("c", id_a, c.pid), WatchResult::armed);
  EXPECT_EQ(watch.watch("d", id_a, d.pid), WatchResult::unsupported) << "cap of 3 in this fixture";
  EXPECT_EQ(watch.watch("c", id_b, d.pid), WatchResult::armed) << "replacing within the cap is fine";
  EXPECT_EQ(watch.size(), 3u);
}

TEST(ProcessExitWatch, WatchesTakeAtMostAQuarterOfTheDescriptorLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 400;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const auto small = ProcessExitWatch::default_max_watches();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(small, 100u);
  EXPECT_LE(ProcessExitWatch::default_max_watches(), 16384u);
}

// Asio's epoll reactor recycles its per-descriptor states, and a readiness
// event already fetched for a socket that a handler closes before the event
// is handled lands on whichever descriptor gets the recycled state next. A
// wait completes on any event, so a pidfd armed in that window woke without
// its process exiting: the fleet bench saw live containers declared dead
// ("container process exited") while thousands of watches were armed beside
// socket traffic. Staged here: the socket's event is queued behind a handler
// that closes the socket and arms a watch on a live child.
TEST_F(ExitWatch, AWakeWithoutTheProcessExitingIsNotAnExit) {
  Child alive;
  namespace net = boost::asio;
  using local = net::local::stream_protocol;
  local::socket reader(ioc), writer(ioc);
  net::local::connect_pair(reader, writer);
  const char byte = 'x';
  ASSERT_EQ(::write(writer.native_handle(), &byte, 1), 1);  // the reader is readable: epoll reports it
  net::post(ioc, [&] {
    reader.close();  // its event is queued; its reactor state goes back to the pool
    EXPECT_EQ(watch.watch("t1", id_a, alive.pid), WatchResult::armed);  // and is handed to the pidfd
  });
  run_for(100ms);
  EXPECT_TRUE(exits.empty()) << "a live process was reported exited (pid " << alive.pid << ")";
  EXPECT_TRUE(watch.watching("t1", id_a)) << "the watch stays armed after a spurious wake";

  alive.kill();
  run_until_exits(1);
  ASSERT_EQ(exits.size(), 1u) << "and still reports the real exit";
  EXPECT_EQ(exits[0].pid, alive.pid);
}
