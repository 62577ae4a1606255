// Shared by the cluster tests (issue 14) against real daemons over one
// PostgreSQL: the `cluster` section they run with, and which instance judges
// which target, read from each daemon's /admin/targets.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"

namespace healthsweep::testing {

// lease 3 s, renewed every second: fenced 2 s after the last renewal sent,
// an owner for itself 4 s after joining.
inline std::string cluster_section(const std::string& instance_id) {
  return "cluster:\n  instance_id: " + instance_id + "\n  lease: 3s\n  renew_every: 1s\nliveness: { stale_after: 5s }\n";
}

struct JudgedTarget {
  std::string state;
  std::int64_t restarts = 0;
};

// The targets `d` judges, by id (none when it does not answer).
inline std::map<std::string, JudgedTarget> judged(const Daemon& d) {
  std::map<std::string, JudgedTarget> out;
  const auto r = d.get("/admin/targets");
  if (r.status != 200) return out;
  const auto doc = boost::json::parse(r.body);  // named: a temporary's array would dangle
  for (const auto& t : doc.as_array())
    out[std::string(t.at("id").as_string())] =
        JudgedTarget{std::string(t.at("state").as_string()), t.at("restarts").to_number<std::int64_t>()};
  return out;
}

// When every one of `expected` targets is judged by exactly one of
// `daemons`: the index of each target's judge. Otherwise nullopt and *why.
inline std::optional<std::map<std::string, int>> owners(const std::vector<const Daemon*>& daemons,
                                                        std::size_t expected, std::string* why) {
  std::map<std::string, int> owner;
  for (std::size_t i = 0; i < daemons.size(); ++i)
    for (const auto& [id, target] : judged(*daemons[i])) {
      if (!owner.emplace(id, static_cast<int>(i)).second) {
        *why = id + " judged by two instances";
        return std::nullopt;
      }
    }
  if (owner.size() != expected) {
    *why = std::to_string(owner.size()) + " of " + std::to_string(expected) + " targets judged";
    return std::nullopt;
  }
  return owner;
}

}  // namespace healthsweep::testing
