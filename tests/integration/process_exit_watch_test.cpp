// ProcessExitWatch against real containers of both engines (Podman, Docker):
// the cgroup identity check accepts a container's own main process and
// refuses any other, and the watch reports the container's death when the
// engine kills it.
#include "sweeps/proactive/process_exit_watch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "tests/support/engine.hpp"
#include "tests/support/process.hpp"

using namespace healthsweep::sweeps::proactive;

using namespace healthsweep::testing;
using healthsweep::sweeps::proactive::ProcessExit;
using healthsweep::sweeps::proactive::ProcessExitWatch;
using healthsweep::sweeps::proactive::WatchResult;
using namespace std::chrono_literals;

class ProcessExitWatchEngine : public ::testing::TestWithParam<EngineKind> {};

INSTANTIATE_TEST_SUITE_P(Engines, ProcessExitWatchEngine, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(ProcessExitWatchEngine, WatchesAContainersOwnMainProcessOnlyAndSeesItKilled) {
  HS_REQUIRE_ENGINE(p, GetParam());
  p.run(p.name("w"), "ws-w");
  std::string out;
  ASSERT_EQ(p.run_shell("inspect -f '{{.State.Pid}} {{.Id}}' " + p.name("w"), &out), 0) << out;
  std::istringstream fields(out);
  int pid = 0;
  std::string id;
  fields >> pid >> id;
  ASSERT_GT(pid, 0) << out;
  ASSERT_EQ(id.size(), 64u) << out;

  boost::asio::io_context ioc;
  std::vector<ProcessExit> exits;
  ProcessExitWatch watch(ioc.get_executor(), [&](const ProcessExit& e) { exits.push_back(e); });
  std::string other_id = id;
  other_id[0] = other_id[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(watch.watch("k", other_id, pid), WatchResult::not_container) << "another container's id";
  EXPECT_EQ(watch.watch("k", id, static_cast<int>(::getpid())), WatchResult::not_container)
      << "a process outside the container";
  ASSERT_EQ(watch.watch("k", id, pid), WatchResult::armed) << "the container's own main process";

  p.kill(p.name("w"));
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (exits.empty() && std::chrono::steady_clock::now() < until) {
    ioc.restart();
    ioc.run_for(10ms);
  }
  ASSERT_EQ(exits.size(), 1u) << "the container's death was not seen";
  EXPECT_EQ(exits[0].key, "k");
  EXPECT_EQ(exits[0].pid, pid);
  EXPECT_EQ(exits[0].container_id, id);
}
