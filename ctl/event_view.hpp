// Events shown to people: a table (events, target ID) and one line per event
// (events --follow).
#pragma once

#include <string>
#include <vector>

#include "ctl/event_store.hpp"
#include "ctl/table.hpp"

namespace healthsweep::ctl {

// Colour is applied when the table is rendered.
Table events_table(const std::vector<Event>& events);
// "2026-12-03T06:00:00.123Z  ws-1  online -> offline  [proactive]  connect refused"
std::string event_line(const Event& e, bool colour);

}  // namespace healthsweep::ctl
