#include "store/transition_event.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace healthsweep::store {

using namespace healthsweep::sweeps::decide;

std::optional<Event> event_of(const Transition& t, const TargetRecord* after) {
  // Appearing is not a state change; a hand-over is not one either, and the
  // row must stay: the new owner restores the restart history from it.
  if (t.added || t.handed_over) return std::nullopt;
  Event e;
  e.target = t.target;
  e.from_state = to_string(t.from);
  e.to_state = to_string(t.to);
  e.layer = to_string(t.layer);
  e.reason = t.reason;
  e.at = t.wall;
  e.removed = t.removed;
  boost::json::object detail;
  if (t.observed_at)
    detail["detection_latency_seconds"] = std::chrono::duration<double>(t.at - *t.observed_at).count();
  if (t.removed) detail["removed"] = true;
  e.detail_json = boost::json::serialize(detail);
  if (after) {
    e.restarts = static_cast<int>(after->restarts);
    e.quarantined = after->quarantined;
    if (after->history)  // steady times of this run, written as wall-clock times
      for (const auto r : after->history->recent)
        e.recent_restarts.push_back(t.wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(t.at - r));
  }
  return e;
}

std::vector<RestoredTarget> restored_targets(std::vector<TargetRow> rows) {
  std::vector<RestoredTarget> restored;
  restored.reserve(rows.size());
  for (auto& r : rows)
    restored.push_back(RestoredTarget{std::move(r.id), static_cast<std::uint32_t>(std::max(r.restarts, 0)),
                                      r.quarantined, std::move(r.recent_restarts)});
  return restored;
}

}  // namespace healthsweep::store
