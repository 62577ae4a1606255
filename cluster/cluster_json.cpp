#include "cluster/cluster_json.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "metrics/time_format.hpp"

namespace healthsweep::cluster {

namespace {
double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }
double seconds(std::chrono::milliseconds ms) { return seconds(static_cast<std::int64_t>(ms.count())); }
}  // namespace

std::string cluster_json(const Membership& membership) {
  const auto& o = membership.options();
  const auto owners = membership.owners();
  boost::json::array members;
  for (const Member& m : membership.members()) {
    const bool owner = std::any_of(owners.begin(), owners.end(),
                                   [&](const LiveMember& x) { return x.instance_id == m.instance_id; });
    const auto acquired = std::chrono::system_clock::time_point(std::chrono::microseconds(m.acquired_at_us));
    members.push_back(boost::json::object{
        {"instance_id", m.instance_id},
        {"advertise", m.advertise},
        {"epoch", m.epoch},
        {"live", m.live},
        {"acquired_at", metrics::format_rfc3339_ms(acquired)},
        {"renewed_seconds_ago", seconds(m.renewed_ago_ms)},
        {"expires_in_seconds", seconds(m.expires_in_ms)},
        {"engine", m.engine},
        {"owner", owner},  // counted in ownership by this instance (see Membership::owners)
        {"targets", m.targets},
        {"offline", m.offline},
    });
  }
  boost::json::object out{
      {"instance_id", o.instance_id},
      {"advertise", o.advertise},
      {"epoch", membership.epoch()},
      {"lease_held", membership.may_act()},
      {"lease_seconds", seconds(o.lease)},
      {"renew_every_seconds", seconds(o.renew_every)},
      {"renew_deadline_seconds", seconds(o.renew_deadline)},
      {"live_members", membership.live_ids().size()},
      {"members", std::move(members)},
  };
  return boost::json::serialize(out);
}

}  // namespace healthsweep::cluster
