#include "ctl/event_view.hpp"

namespace healthsweep::ctl {

Table events_table(const std::vector<Event>& events) {
  Table table({"ID", "AT", "TARGET", "FROM", "TO", "LAYER", "REASON"});
  for (const auto& e : events)
    table.add({{std::to_string(e.id)}, {e.at}, {e.target}, {e.from_state}, {e.to_state, state_colour(e.to_state)},
               {e.layer.empty() ? "-" : e.layer}, {e.reason.empty() ? "-" : e.reason}});
  return table;
}

std::string event_line(const Event& e, bool colour) {
  return e.at + "  " + e.target + "  " + e.from_state + " -> " + paint(e.to_state, state_colour(e.to_state), colour) +
         "  [" + (e.layer.empty() ? "-" : e.layer) + "]  " + e.reason;
}

}  // namespace healthsweep::ctl
