// sd_notify(3) for Type=notify: READY=1 once the listener is up, STOPPING=1 on
// shutdown, WATCHDOG=1 while every enabled subsystem is fresh. Without
// NOTIFY_SOCKET (not under systemd) every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace healthsweep::daemon {

void notify(std::string_view state);
// Half of WATCHDOG_USEC (the period systemd recommends), when a watchdog is set.
std::optional<std::chrono::microseconds> watchdog_period();

}  // namespace healthsweep::daemon
