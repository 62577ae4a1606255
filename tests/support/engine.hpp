// Test support: real containers on the container engines that scripts/test
// starts (scripts/services): the Podman API service (HS_TEST_PODMAN,
// HS_TEST_ENGINE_SOCKET, HS_TEST_IMAGE) and a private Docker Engine
// (HS_TEST_DOCKER, HS_TEST_DOCKER_SOCKET, HS_TEST_DOCKER_IMAGE). Engine tests
// are value-parameterised on EngineKind and run against both. Every container
// is created with --network none and a label unique to this object, and
// removed when it dies, also when the test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

enum class EngineKind { podman, docker };

// "Podman" / "Docker": the parameter's name in the test's name.
const char* to_string(EngineKind kind);
inline std::ostream& operator<<(std::ostream& os, EngineKind kind) { return os << to_string(kind); }
// For INSTANTIATE_TEST_SUITE_P: ".../Podman", ".../Docker".
struct EngineName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& info) const { return to_string(info.param); }
};

// The engine's environment from scripts/services; `missing` names the first
// variable that is not set (then the other fields are empty).
struct EngineEnv {
  std::string command, socket, image, missing;
};
EngineEnv engine_env(EngineKind kind);

class Engine {
 public:
  Engine(EngineKind kind, std::string command, std::string socket, std::string image);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  EngineKind kind() const { return kind_; }
  bool docker() const { return kind_ == EngineKind::docker; }
  const char* engine_name() const { return to_string(kind_); }
  const std::string& command() const { return command_; }  // "podman --root ..." / "docker -H unix://..."
  const std::string& socket() const { return socket_; }
  const std::string& image() const { return image_; }
  // A label key unique to this object: the daemon under test discovers only
  // its own containers (tests run in parallel on one engine).
  const std::string& label() const { return label_; }
  // A container name unique to this object.
  std::string name(const std::string& suffix) const { return prefix_ + suffix; }

  // The flags every container gets: --network none (and, for Docker,
  // --pull never: the image is local, nothing is ever fetched).
  std::string create_flags() const;
  // `<engine> run -d <create_flags> --label <label>=<target> [extra] image cmd...`
  void run(const std::string& container, const std::string& target, const std::string& extra = {},
           const std::string& command = "sleep 100000");
  void kill(const std::string& container);
  void start(const std::string& container);
  // rm -f (Podman: with -t 0); 0 on success.
  int remove(const std::string& container);
  std::string status(const std::string& container);  // running, exited, ...
  std::string health(const std::string& container);  // healthy, unhealthy, starting, "" (none)
  // "<engine> <args>", bounded: a command still running after 120 s is
  // killed (-1 / 124), so a wedged engine fails the test instead of hanging
  // it until ctest's timeout (CI's budget is the sum of such hangs).
  int run_shell(const std::string& args, std::string* out = nullptr);
  // Empty when the engine lists containers within 20 s; otherwise why not,
  // with the last lines of its log (HS_TEST_DOCKER_LOG / HS_TEST_PODMAN_LOG).
  std::string unresponsive();

  // Health checks. Podman (no systemd timers here) runs a check only when
  // asked (`podman healthcheck run`); Docker runs them itself every
  // interval. health_flags: a check `cmd` that Podman runs on demand and
  // Docker every second. check_health: Podman runs the check now; Docker
  // waits (up to `limit`) for its own checks to report. True when the
  // container's health is then `expected`.
  std::string health_flags(const std::string& cmd, int retries = 1) const;
  bool check_health(const std::string& container, const std::string& expected,
                    std::chrono::milliseconds limit = std::chrono::seconds(20));

  // What the engine's event stream calls a container's removal: Docker
  // "destroy", Podman "remove".
  const char* removed_action() const { return docker() ? "destroy" : "remove"; }

 private:
  EngineKind kind_;
  std::string command_, socket_, image_, label_, prefix_;
  bool wedged_ = false;  // unresponsive() said so: the destructor asks nothing more
};

// An API service of a test's own, which the test may kill (SIGKILL) and start
// again (an engine outage) without harming the shared one: for Podman a
// second `podman system service` on the shared storage (the containers of
// `shared` stay visible); for Docker a private dockerd in its own temporary
// directory with --live-restore (containers outlive a dead dockerd, as on an
// operator's host), the busybox image imported. engine() is its Engine.
class EngineService {
 public:
  EngineService(EngineKind kind, const Engine& shared);
  ~EngineService();
  EngineService(const EngineService&) = delete;
  EngineService& operator=(const EngineService&) = delete;

  bool start();  // starts and waits until it answers /_ping; false (log()) if not
  void kill();   // SIGKILL, now
  const std::string& socket() const { return socket_; }
  Engine& engine() { return *engine_; }
  std::string log() const;

 private:
  EngineKind kind_;
  TempDir dir_;
  std::string socket_, command_;
  std::unique_ptr<Subprocess> process_;
  std::unique_ptr<Engine> engine_;
  bool imported_ = false;
};

}  // namespace healthsweep::testing

// Declares `Engine var` of `kind` from the environment; skips loudly when the
// engine did not start, or fails under CI=true.
#define HS_REQUIRE_ENGINE(var, kind)                                                              \
  const auto var##_env_ = ::healthsweep::testing::engine_env(kind);                               \
  if (!var##_env_.missing.empty()) {                                                              \
    if (::healthsweep::testing::in_ci())                                                          \
      GTEST_FAIL() << var##_env_.missing << " is not set: scripts/services could not start "      \
                   << ::healthsweep::testing::to_string(kind) << " (CI=true)";                    \
    GTEST_SKIP() << "SKIPPED LOUDLY: " << var##_env_.missing << " is not set: "                   \
                 << ::healthsweep::testing::to_string(kind)                                       \
                 << " did not start; run through scripts/test to start it";                       \
  }                                                                                               \
  ::healthsweep::testing::Engine var(kind, var##_env_.command, var##_env_.socket, var##_env_.image);  \
  /* A wedged engine fails each test in seconds, not after ctest's 300 s. */                    \
  if (const std::string var##_wedged_ = var.unresponsive(); !var##_wedged_.empty())             \
  GTEST_FAIL() << var##_wedged_
