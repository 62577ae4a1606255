#include "sweeps/proactive/process_exit_watch.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace healthsweep::sweeps::proactive {

namespace net = boost::asio;

namespace {

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// A pidfd is readable once its process has exited, and only then. Asked
// after every wake: Asio's epoll reactor recycles its per-descriptor states,
// and a readiness event fetched for a socket closed before the event was
// handled completes a wait on whatever descriptor got the state next, so a
// wake alone is no proof of an exit.
bool process_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

bool is_hex_id(std::string_view id) {
  return id.size() >= 32 && std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isxdigit(c); });
}

bool cgroup_of_pid_names(int pid, const std::string& container_id) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  return cgroup_names_container(text.str(), container_id);
}

}  // namespace

std::string_view to_string(WatchResult r) {
  switch (r) {
    case WatchResult::armed: return "armed";
    case WatchResult::gone: return "gone";
    case WatchResult::not_container: return "not the container's process";
    case WatchResult::unsupported: return "unsupported";
  }
  return "?";
}

bool cgroup_names_container(std::string_view text, std::string_view id) {
  // A short or non-hex "ID" (a name) could match by accident: never watch on it.
  if (!is_hex_id(id)) return false;
  for (auto at = text.find(id); at != std::string_view::npos; at = text.find(id, at + 1)) {
    const char before = at == 0 ? '\n' : text[at - 1];
    const auto end = at + id.size();
    const char after = end == text.size() ? '\n' : text[end];
    // ".../<id>", ".../docker-<id>.scope", ".../libpod-<id>/container"; not a
    // longer hex string that merely contains it.
    if ((before == '/' || before == '-') && (after == '\n' || after == '.' || after == '/')) return true;
  }
  return false;
}

struct ProcessExitWatch::Impl : std::enable_shared_from_this<ProcessExitWatch::Impl> {
  struct Entry {
    std::string container_id;
    int pid = 0;
    std::uint64_t generation = 0;
    std::unique_ptr<net::posix::stream_descriptor> fd;  // destroying it cancels the wait
  };

  Impl(net::any_io_executor ex, OnExit o, std::size_t max, Identify id)
      : executor(std::move(ex)), on_exit(std::move(o)), max_watches(max), identify(std::move(id)) {}

  net::any_io_executor executor;
  OnExit on_exit;
  std::size_t max_watches;
  Identify identify;
  std::unordered_map<std::string, Entry> entries;
  std::uint64_t generations = 0;
  bool stopped = false;

  void wait(const std::string& key, Entry& e) {
    e.fd->async_wait(net::posix::stream_descriptor::wait_read,
                     [weak = weak_from_this(), key, generation = e.generation](boost::system::error_code ec) {
                       if (ec) return;  // forgotten, replaced or stopped
                       if (auto self = weak.lock()) self->woke(key, generation);
                     });
  }

  void woke(const std::string& key, std::uint64_t generation) {
    auto it = entries.find(key);
    if (it == entries.end() || it->second.generation != generation) return;  // replaced meanwhile
    if (!process_exited(it->second.fd->native_handle())) {
      wait(key, it->second);  // a spurious wake: the process lives, watch on
      return;
    }
    ProcessExit ev{key, std::move(it->second.container_id), it->second.pid, std::chrono::steady_clock::now()};
    entries.erase(it);
    if (on_exit) on_exit(ev);
  }
};

ProcessExitWatch::ProcessExitWatch(net::any_io_executor ex, OnExit on_exit, std::size_t max_watches,
                                   Identify identify)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(on_exit), max_watches,
                                   identify ? std::move(identify) : Identify(cgroup_of_pid_names))) {}

ProcessExitWatch::~ProcessExitWatch() { stop(); }

bool ProcessExitWatch::supported() {
  static const bool ok = [] {
    const int fd = pidfd_open(static_cast<int>(::getpid()));
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }();
  return ok;
}

std::size_t ProcessExitWatch::default_max_watches() {
  constexpr std::size_t cap = 16384;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return cap;
  return std::min<std::size_t>(cap, static_cast<std::size_t>(lim.rlim_cur / 4));
}

WatchResult ProcessExitWatch::watch(const std::string& key, const std::string& container_id, int pid) {
  auto& d = *impl_;
  if (d.stopped || pid <= 0) return WatchResult::unsupported;
  auto existing = d.entries.find(key);
  if (existing != d.entries.end() && existing->second.pid == pid &&
      existing->second.container_id == container_id)
    return WatchResult::armed;
  if (existing == d.entries.end() && d.entries.size() >= d.max_watches) return WatchResult::unsupported;

  const int fd = pidfd_open(pid);
  if (fd < 0) return errno == ESRCH ? WatchResult::gone : WatchResult::unsupported;
  auto descriptor = std::make_unique<net::posix::stream_descriptor>(d.executor);
  boost::system::error_code ec;
  descriptor->assign(fd, ec);  // owns fd once assigned; a failed assign leaves it to us
  if (ec) {
    ::close(fd);
    return WatchResult::unsupported;
  }
  if (!d.identify(pid, container_id)) return WatchResult::not_container;

  // Replacing the entry destroys the old descriptor: its wait ends aborted.
  auto& entry = d.entries[key] = Impl::Entry{container_id, pid, ++d.generations, std::move(descriptor)};
  d.wait(key, entry);
  return WatchResult::armed;
}

bool ProcessExitWatch::watching(const std::string& key, const std::string& container_id) const {
  auto it = impl_->entries.find(key);
  return it != impl_->entries.end() && it->second.container_id == container_id;
}

void ProcessExitWatch::forget(const std::string& key) { impl_->entries.erase(key); }

void ProcessExitWatch::retain(const std::function<bool(const std::string&)>& keep) {
  std::erase_if(impl_->entries, [&](const auto& kv) { return !keep(kv.first); });
}

std::size_t ProcessExitWatch::size() const { return impl_->entries.size(); }

void ProcessExitWatch::stop() {
  impl_->stopped = true;
  impl_->entries.clear();
}

}  // namespace healthsweep::sweeps::proactive
