// Test support: real containers on the Podman API service that scripts/test
// starts (HS_TEST_PODMAN, HS_TEST_ENGINE_SOCKET, HS_TEST_IMAGE). Every
// container is created with --network none and a label unique to this
// object, and removed when it dies, also when the test fails.
#pragma once

#include <string>
#include <vector>

namespace healthsweep::testing {

class Podman {
 public:
  Podman(std::string command, std::string socket, std::string image);
  ~Podman();
  Podman(const Podman&) = delete;
  Podman& operator=(const Podman&) = delete;

  const std::string& socket() const { return socket_; }
  // A label key unique to this object: the daemon under test discovers only
  // its own containers (tests run in parallel on one engine).
  const std::string& label() const { return label_; }
  // A container name unique to this object.
  std::string name(const std::string& suffix) const { return prefix_ + suffix; }

  // podman run -d --network none --label <label>=<target> [extra] image cmd...
  void run(const std::string& container, const std::string& target, const std::string& extra = {},
           const std::string& command = "sleep 100000");
  void kill(const std::string& container);
  void start(const std::string& container);
  std::string status(const std::string& container);  // running, exited, ...
  int run_shell(const std::string& args, std::string* out = nullptr);  // "podman <args>"

 private:
  std::string command_, socket_, image_, label_, prefix_;
};

}  // namespace healthsweep::testing

// Declares `Podman var` from the environment; skips loudly, or fails under CI=true.
#define HS_REQUIRE_PODMAN(var)                                                        \
  HS_REQUIRE_ENV(var##_cmd_, "HS_TEST_PODMAN");                                       \
  HS_REQUIRE_ENV(var##_sock_, "HS_TEST_ENGINE_SOCKET");                               \
  HS_REQUIRE_ENV(var##_image_, "HS_TEST_IMAGE");                                      \
  ::healthsweep::testing::Podman var(var##_cmd_, var##_sock_, var##_image_)
