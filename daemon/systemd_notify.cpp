#include "daemon/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace healthsweep::daemon {

void notify(std::string_view state) {
  const std::string s(state);
  sd_notify(0, s.c_str());
}

std::optional<std::chrono::microseconds> watchdog_period() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace healthsweep::daemon
