#include "tests/support/podman.hpp"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

namespace {
std::atomic<int> counter{0};
}

Podman::Podman(std::string command, std::string socket, std::string image)
    : command_(std::move(command)), socket_(std::move(socket)), image_(std::move(image)) {
  const auto tag = std::to_string(getpid()) + "-" + std::to_string(counter++);
  label_ = "hs.test." + tag;
  prefix_ = "hs" + tag + "-";
}

Podman::~Podman() {
  std::string ids;
  run_shell("ps -aq --filter label=" + label_, &ids);
  for (char& c : ids) if (c == '\n') c = ' ';
  if (ids.find_first_not_of(' ') != std::string::npos) run_shell("rm -f -t 0 " + ids);
}

int Podman::run_shell(const std::string& args, std::string* out) {
  return ::healthsweep::testing::run_shell(command_ + " " + args, out);
}

void Podman::run(const std::string& container, const std::string& target, const std::string& extra,
                 const std::string& command) {
  std::string out;
  const int rc = run_shell("run -d --network none --name " + container + " --label " + label_ + "=" +
                           target + " " + extra + " " + image_ + " " + command, &out);
  if (rc != 0) throw std::runtime_error("podman run " + container + " failed: " + out);
}

void Podman::kill(const std::string& container) {
  std::string out;
  if (run_shell("kill " + container, &out) != 0)
    throw std::runtime_error("podman kill " + container + " failed: " + out);
}

void Podman::start(const std::string& container) {
  std::string out;
  if (run_shell("start " + container, &out) != 0)
    throw std::runtime_error("podman start " + container + " failed: " + out);
}

std::string Podman::status(const std::string& container) {
  std::string out;
  run_shell("inspect --format '{{.State.Status}}' " + container, &out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace healthsweep::testing
