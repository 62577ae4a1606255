#include "tests/support/engine.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace healthsweep::testing {

namespace {
std::atomic<int> counter{0};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// PIDs whose command line contains `needle` (e.g. containerd shims of one
// exec-root), this process excluded.
std::vector<pid_t> pids_with_cmdline(const std::string& needle) {
  std::vector<pid_t> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  while (auto* e = readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmdline = read_file("/proc/" + std::string(e->d_name) + "/cmdline");
    for (char& c : cmdline) if (c == '\0') c = ' ';
    if (cmdline.find(needle) != std::string::npos) pids.push_back(pid);
  }
  closedir(d);
  return pids;
}

// Running, a zombie not counted (an orphan's zombie may wait for PID 1).
// Unmounts (lazily) every mount point under `dir`, deepest first: dockerd
// bind-mounts its data-root on itself and, once it was killed and started
// again, leaves that mount behind when it stops.
void unmount_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(dir + "/", 0) == 0) points.push_back(point);
  }
  for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}

bool alive(pid_t pid) {
  if (pid <= 0) return false;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}
}  // namespace

const char* to_string(EngineKind kind) { return kind == EngineKind::docker ? "Docker" : "Podman"; }

EngineEnv engine_env(EngineKind kind) {
  const bool docker = kind == EngineKind::docker;
  EngineEnv env;
  const char* names[] = {docker ? "HS_TEST_DOCKER" : "HS_TEST_PODMAN",
                         docker ? "HS_TEST_DOCKER_SOCKET" : "HS_TEST_ENGINE_SOCKET",
                         docker ? "HS_TEST_DOCKER_IMAGE" : "HS_TEST_IMAGE"};
  std::string* fields[] = {&env.command, &env.socket, &env.image};
  for (int i = 0; i < 3; ++i) {
    *fields[i] = env_or_empty(names[i]);
    if (fields[i]->empty()) return EngineEnv{{}, {}, {}, names[i]};
  }
  return env;
}

Engine::Engine(EngineKind kind, std::string command, std::string socket, std::string image)
    : kind_(kind), command_(std::move(command)), socket_(std::move(socket)), image_(std::move(image)) {
  const auto tag = std::to_string(getpid()) + "-" + std::to_string(counter++);
  label_ = "hs.test." + tag;
  prefix_ = "hs" + tag + "-";
}

Engine::~Engine() {
  if (wedged_) return;  // scripts/services stop removes what is left
  std::string ids;
  run_shell("ps -aq --filter label=" + label_, &ids);
  if (ids.find_first_not_of(" \n") == std::string::npos) return;
  if (docker()) {  // dockerd removes one container per request at a time: four at once
    ::healthsweep::testing::run_shell("echo '" + ids + "' | timeout -k 5 120 xargs -n 10 -P 4 " + command_ +
                                      " rm -f >/dev/null");
    return;
  }
  for (char& c : ids) if (c == '\n') c = ' ';
  run_shell("rm -f -t 0 " + ids);
}

int Engine::run_shell(const std::string& args, std::string* out) {
  // timeout signals its whole process group: pipes and children included.
  return ::healthsweep::testing::run_shell("timeout -k 5 120 " + command_ + " " + args, out);
}

std::string Engine::unresponsive() {
  std::string out;
  const int rc = ::healthsweep::testing::run_shell("timeout -k 2 20 " + command_ + " ps -q --filter label=" + label_, &out);
  if (rc == 0) return {};
  wedged_ = true;
  const std::string log = env_or_empty(docker() ? "HS_TEST_DOCKER_LOG" : "HS_TEST_PODMAN_LOG");
  std::string tail;
  if (!log.empty()) ::healthsweep::testing::run_shell("tail -n 40 " + log, &tail);
  return std::string(engine_name()) + " did not list its containers within 20 s (exit " + std::to_string(rc) +
         ", the engine is wedged; every test on it now fails at once): " + out + "\n--- " +
         (log.empty() ? std::string("no log named") : log) + " ---\n" + tail;
}

std::string Engine::create_flags() const { return docker() ? "--network none --pull never" : "--network none"; }

void Engine::run(const std::string& container, const std::string& target, const std::string& extra,
                 const std::string& command) {
  std::string out;
  const int rc = run_shell("run -d " + create_flags() + " --name " + container + " --label " + label_ + "=" +
                           target + " " + extra + " " + image_ + " " + command, &out);
  if (rc != 0) throw std::runtime_error(std::string(engine_name()) + " run " + container + " failed: " + out);
}

void Engine::kill(const std::string& container) {
  std::string out;
  if (run_shell("kill " + container, &out) != 0)
    throw std::runtime_error(std::string(engine_name()) + " kill " + container + " failed: " + out);
}

void Engine::start(const std::string& container) {
  std::string out;
  if (run_shell("start " + container, &out) != 0)
    throw std::runtime_error(std::string(engine_name()) + " start " + container + " failed: " + out);
}

int Engine::remove(const std::string& container) {
  return run_shell((docker() ? "rm -f " : "rm -f -t 0 ") + container);
}

std::string Engine::status(const std::string& container) {
  std::string out;
  run_shell("inspect --format '{{.State.Status}}' " + container, &out);
  return trimmed(out);
}

std::string Engine::health(const std::string& container) {
  std::string out;
  run_shell("inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' " + container, &out);
  return trimmed(out);
}

std::string Engine::health_flags(const std::string& cmd, int retries) const {
  std::string flags = "--health-cmd '" + cmd + "' --health-retries " + std::to_string(retries);
  return flags + (docker() ? " --health-interval 1s" : " --health-interval 1h");
}

bool Engine::check_health(const std::string& container, const std::string& expected,
                          std::chrono::milliseconds limit) {
  if (!docker()) {
    const int rc = run_shell("healthcheck run " + container);
    if (rc != (expected == "healthy" ? 0 : 1)) return false;
    return health(container) == expected;
  }
  return eventually([&] { return health(container) == expected; }, limit);
}

// --- EngineService ------------------------------------------------------------

EngineService::EngineService(EngineKind kind, const Engine& shared) : kind_(kind) {
  socket_ = dir_.file("engine.sock");
  if (kind_ == EngineKind::podman) {
    command_ = shared.command() + " system service --time=0 unix://" + socket_;
    engine_ = std::make_unique<Engine>(kind_, shared.command(), socket_, shared.image());
  } else {
    // Everything under the temporary directory (short: containerd's socket
    // paths under the exec-root must fit a sockaddr_un).
    command_ = "dockerd --host unix://" + socket_ + " --data-root " + dir_.file("data") + " --exec-root " +
               dir_.file("x") + " --pidfile " + dir_.file("docker.pid") +
               " --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs --live-restore";
    const std::string docker_bin = shared.command().substr(0, shared.command().find(' '));
    engine_ = std::make_unique<Engine>(kind_, docker_bin + " -H unix://" + socket_, socket_, shared.image());
  }
}

bool EngineService::start() {
  process_ = std::make_unique<Subprocess>(std::vector<std::string>{"/bin/sh", "-c", "exec " + command_},
                                          dir_.file("service.log"));
  const bool up = eventually(
      [&] { return ::healthsweep::testing::run_shell("curl -sf --unix-socket " + socket_ + " http://d/_ping") == 0; },
      std::chrono::seconds(30));
  if (!up) return false;
  if (kind_ == EngineKind::docker && !imported_) {
    // The busybox image, built as scripts/services builds it.
    const std::string root = dir_.file("rootfs");
    std::string out;
    const int rc = ::healthsweep::testing::run_shell(
        "mkdir -p " + root + "/bin " + root + "/tmp && cp /bin/busybox " + root + "/bin/ && for c in sh sleep; do ln -sf busybox " +
        root + "/bin/$c; done && tar -C " + root + " -cf " + dir_.file("bb.tar") + " . && " + engine_->command() +
        " import " + dir_.file("bb.tar") + " " + engine_->image(), &out);
    if (rc != 0) {
      std::fprintf(stderr, "docker import failed: %s\n", out.c_str());
      return false;
    }
    imported_ = true;
  }
  return true;
}

void EngineService::kill() {
  if (process_) process_->signal(SIGKILL);
  if (process_) process_->wait_exit(std::chrono::seconds(10));
}

std::string EngineService::log() const { return read_file(dir_.file("service.log")); }

EngineService::~EngineService() {
  if (kind_ == EngineKind::podman) {
    engine_.reset();
    process_.reset();  // SIGKILL, as before: the shared service owns the storage
    return;
  }
  // Docker: remove this engine's containers (started again when the test
  // left it dead), stop dockerd and wait for it, its containerd and shims.
  if (!process_ || !process_->running()) start();
  std::string ids;
  engine_->run_shell("ps -aq", &ids);
  for (char& c : ids) if (c == '\n') c = ' ';
  if (ids.find_first_not_of(' ') != std::string::npos) engine_->run_shell("rm -f " + ids);
  engine_.reset();
  const pid_t containerd = static_cast<pid_t>(std::atoi(read_file(dir_.file("x/containerd/containerd.pid")).c_str()));
  if (process_) {
    process_->signal(SIGTERM);
    if (!process_->wait_exit(std::chrono::seconds(20))) process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(5));
  }
  if (!eventually([&] { return !alive(containerd); }, std::chrono::seconds(10)) && alive(containerd))
    ::kill(containerd, SIGKILL);
  for (const pid_t pid : pids_with_cmdline(dir_.file("x/containerd/containerd.sock"))) ::kill(pid, SIGKILL);
  unmount_under(dir_.path());
}

}  // namespace healthsweep::testing
