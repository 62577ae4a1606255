// Reading target objects and metrics of a running daemon in integration tests.
#pragma once

#include <boost/json/parse.hpp>
#include <optional>
#include <string>

#include "tests/support/daemon.hpp"
#include "tests/support/metrics_text.hpp"

namespace healthsweep::testing {

struct TargetView {
  std::string state;
  int restarts = 0;
  bool quarantined = false;
  std::string reason;
  std::string body;
};

inline std::optional<TargetView> target(const Daemon& d, const std::string& id) {
  const auto r = d.get("/admin/targets/" + id);
  if (r.status != 200) return std::nullopt;
  const auto o = boost::json::parse(r.body).as_object();
  TargetView v;
  v.state = std::string(o.at("state").as_string());
  v.restarts = static_cast<int>(o.at("restarts").to_number<long long>());
  v.quarantined = o.at("quarantined").as_bool();
  v.reason = std::string(o.at("reason").as_string());
  v.body = r.body;
  return v;
}

inline std::string state_of(const Daemon& d, const std::string& id) {
  auto t = target(d, id);
  return t ? t->state : "<absent>";
}

// The value of one series of the daemon's /metrics (tests/support/metrics_text:
// 0 when a declared series is absent, a test failure when no family can have it).
inline double metric(const Daemon& d, const std::string& series) {
  return series_value(d.get("/metrics").body, series);
}

}  // namespace healthsweep::testing
