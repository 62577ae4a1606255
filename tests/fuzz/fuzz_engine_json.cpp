// Fuzz target for the engine client's parsers: any bytes given as a container
// list, an inspect answer, an error body or an event stream must give a
// result or an "engine: ..." error, never a crash; and the event stream must
// split into the same lines however its bytes are chunked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "clients/engine/json.hpp"

using namespace healthsweep::clients::engine;

namespace {


template <class T>
void check(const EngineResult<T>& r) {
  if (r.ok() != r.error.empty()) std::abort();
  if (!r.ok() && (r.ec != EngineErrc::bad_response || r.error.rfind("engine: ", 0) != 0)) std::abort();
}

std::vector<std::string> split(std::string_view text, std::size_t chunk) {
  EventLineBuffer buffer(4096);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size(); at += chunk)
    buffer.feed(text.substr(at, chunk), [&](std::string_view l) { lines.emplace_back(l); });
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto list = parse_container_list(text);
  check(list);
  for (const auto& c : list.value)
    if (c.id.empty()) std::abort();
  check(parse_inspect(text));
  (void)engine_error_message(text);
  const auto health = health_from_status_text(text);
  if (!health.empty() && health != "healthy" && health != "unhealthy" && health != "starting") std::abort();

  const auto whole = split(text, text.size() + 1);
  const auto pieces = split(text, 1 + (size % 7));
  if (whole != pieces) std::abort();
  for (const auto& line : whole) {
    const auto event = parse_event_line(line);
    check(event);
    if (event.ok() && event.value.action.empty()) std::abort();
  }
  return 0;
}
