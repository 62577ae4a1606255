// Fuzz target for the spool file's reader: whatever bytes a crash, a full
// disk or a person left in events.jsonl, loading gives events or skips lines
// with a warning, never a crash; and every event read back writes itself as
// one line that reads back the same (the rewrite after a torn line must not
// change what is replayed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <spdlog/spdlog.h>

#include "store/spool.hpp"

using namespace healthsweep::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] { spdlog::set_level(spdlog::level::off); return true; }();
  (void)quiet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto contents = parse_spool(text);
  for (const auto& e : contents.events) {
    if (e.event_id.empty()) std::abort();
    const auto line = to_spool_line(e);
    if (line.find('\n') != std::string::npos) std::abort();
    const auto back = from_spool_line(line);
    if (!back || back->event_id != e.event_id || back->target != e.target || back->reason != e.reason ||
        back->at != e.at || back->restarts != e.restarts || back->quarantined != e.quarantined ||
        back->removed != e.removed || back->recent_restarts != e.recent_restarts)
      std::abort();
  }
  return 0;
}
