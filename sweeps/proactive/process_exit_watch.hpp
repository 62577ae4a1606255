// Watches the main process of running containers through pidfds, so a
// container's death is known the moment its process exits, not when the
// engine gets round to telling: Podman's file events backend polls its log
// every 250 ms, and even Docker writes `die` only after containerd's
// round trip. The kernel says it in microseconds.
//
// It only observes. A watch is armed only when the PID is provably the
// container's: its /proc/PID/cgroup names the container's full ID (Docker,
// Podman and containerd all put it in the cgroup path). A daemon in another
// PID namespace, a PID reused by an unrelated process, or an engine on
// another host therefore gets no watch, never a false death; the events
// stream and the poll still cover those containers.
//
// The pidfd is opened before the cgroup is read, so the process checked is
// the process watched (pidfds cannot be fooled by PID reuse).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace healthsweep::sweeps::proactive {

struct ProcessExit {
  std::string key;           // what the watch was armed for (a target id)
  std::string container_id;  // the container whose main process exited
  int pid = 0;
  std::chrono::steady_clock::time_point when;  // when the loop learnt it
};

enum class WatchResult {
  armed,          // a new watch (or the same process already watched)
  gone,           // no such process any more (it exited before we looked)
  not_container,  // the PID is not the container's (other PID namespace, reused)
  unsupported,    // no pidfd_open (kernel < 5.3, seccomp) or too many watches
};

std::string_view to_string(WatchResult r);

// True when the text of /proc/PID/cgroup names the container: its full ID
// (at least 32 hex digits, as every engine writes it) appears as a whole
// path element or scope name, e.g. "0::/system.slice/docker-<id>.scope",
// "0::/libpod_parent/libpod-<id>", "4:memory:/docker/<id>".
bool cgroup_names_container(std::string_view cgroup_text, std::string_view container_id);

class ProcessExitWatch {
 public:
  using OnExit = std::function<void(const ProcessExit&)>;
  // Is `pid` the main process of `container_id`? Default: its cgroup says so.
  using Identify = std::function<bool(int pid, const std::string& container_id)>;

  ProcessExitWatch(boost::asio::any_io_executor ex, OnExit on_exit,
                   std::size_t max_watches = default_max_watches(), Identify identify = {});
  ~ProcessExitWatch();
  ProcessExitWatch(const ProcessExitWatch&) = delete;
  ProcessExitWatch& operator=(const ProcessExitWatch&) = delete;

  // Whether this kernel (and seccomp filter) lets us open pidfds at all.
  static bool supported();
  // Each watch holds a descriptor: at most a quarter of RLIMIT_NOFILE (as it
  // is now), and never more than 16,384. Beyond it containers go unwatched
  // (events and the poll still cover them); the listener leaves this much room.
  static std::size_t default_max_watches();

  // Watches `pid` as `container_id`'s main process for `key`, replacing any
  // other watch of `key`. on_exit runs once, on the loop, when it exits.
  WatchResult watch(const std::string& key, const std::string& container_id, int pid);
  // Is `key` watched, and for this container?
  bool watching(const std::string& key, const std::string& container_id) const;
  void forget(const std::string& key);
  // Forgets every key for which keep() is false.
  void retain(const std::function<bool(const std::string& key)>& keep);
  std::size_t size() const;
  void stop();  // forgets everything; on_exit runs no more

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::sweeps::proactive
