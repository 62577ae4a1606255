// Timestamps shown to people and stored: RFC 3339, UTC, millisecond precision.
#pragma once

#include <chrono>
#include <string>

namespace healthsweep::metrics {

std::string format_rfc3339_ms(std::chrono::system_clock::time_point t);

// The wall-clock time that corresponds to a steady_clock time point (for
// showing deadlines and evidence times that are kept on the steady clock).
std::chrono::system_clock::time_point to_wall(std::chrono::steady_clock::time_point t,
                                              std::chrono::steady_clock::time_point now_steady,
                                              std::chrono::system_clock::time_point now_wall);

}  // namespace healthsweep::metrics
