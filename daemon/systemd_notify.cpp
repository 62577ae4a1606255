#include "daemon/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace healthsweep::daemon {

// Not sd_notify(): it sends on a blocking socket, and when the receiver's
// queue is full (net.unix.max_dgram_qlen datagrams not yet read: PID 1 busy,
// or a test not reading) the send blocks in the kernel, and with it the
// event loop and every sweep. Here the send never waits: a message the
// receiver has no room for is dropped, which for WATCHDOG=1 costs nothing
// (the next comes within half the watchdog period) and for READY=1 or
// STOPPING=1 is what a receiver that does not read would get anyway.
void notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  const std::size_t len = std::strlen(path);
  sockaddr_un addr{};
  if (len >= sizeof addr.sun_path) return;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket name
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  ::close(fd);
}

std::optional<std::chrono::microseconds> watchdog_period() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace healthsweep::daemon
