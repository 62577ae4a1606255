#include "metrics/time_format.hpp"

#include <ctime>

namespace healthsweep::metrics {

std::string format_rfc3339_ms(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int frac = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::chrono::system_clock::time_point to_wall(std::chrono::steady_clock::time_point t,
                                              std::chrono::steady_clock::time_point now_steady,
                                              std::chrono::system_clock::time_point now_wall) {
  return now_wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - now_steady);
}

}  // namespace healthsweep::metrics
