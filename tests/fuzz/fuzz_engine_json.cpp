// Fuzz target for the engine client's parsers: any bytes given as a container
// list, an inspect answer, an error body or an event stream must give a
// result or an "engine: ..." error, never a crash; and the event stream must
// split into the same lines however its bytes are chunked. The container
// list, read as it streams in (SAX), must agree with what reading the whole
// document gives (the reference below), and with itself fed in pieces.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/engine/json.hpp"

using namespace healthsweep::clients::engine;

namespace {

namespace json = boost::json;

// The list as reading the whole document gives it, field by field (the
// parser did this before issue 15): nullopt when that refuses the bytes.
std::optional<std::vector<ContainerSummary>> list_from_document(std::string_view text) {
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec || !doc.is_array()) return std::nullopt;
  const auto text_at = [](const json::object& o, std::string_view key) -> std::string {
    if (const auto* v = o.if_contains(key))
      if (const auto* str = v->if_string()) return std::string(*str);
    return {};
  };
  std::vector<ContainerSummary> out;
  for (const auto& item : doc.get_array()) {
    const auto* c = item.if_object();
    if (!c) return std::nullopt;
    ContainerSummary s;
    s.id = text_at(*c, "Id");
    if (s.id.empty()) return std::nullopt;
    if (const auto* names = c->if_contains("Names"))
      if (const auto* arr = names->if_array(); arr && !arr->empty())
        if (const auto* first = arr->front().if_string()) {
          std::string_view name = *first;
          if (!name.empty() && name.front() == '/') name.remove_prefix(1);
          s.name = std::string(name);
        }
    s.state = text_at(*c, "State");
    s.status = text_at(*c, "Status");
    s.health = health_from_status_text(s.status);
    if (const auto* labels = c->if_contains("Labels"))
      if (const auto* m = labels->if_object())
        for (const auto& kv : *m)
          if (const auto* v = kv.value().if_string()) s.labels.emplace(std::string(kv.key()), std::string(*v));
    out.push_back(std::move(s));
  }
  return out;
}

bool same(const std::vector<ContainerSummary>& a, const std::vector<ContainerSummary>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].name != b[i].name || a[i].state != b[i].state || a[i].status != b[i].status ||
        a[i].health != b[i].health || a[i].labels != b[i].labels)
      return false;
  return true;
}


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
  const auto reference = list_from_document(text);
  if (list.ok() != reference.has_value()) std::abort();
  if (reference && !same(list.value, *reference)) std::abort();
  ContainerListParser pieces_parser;
  for (std::size_t at = 0; at < text.size(); at += 1 + size % 5) pieces_parser.feed(text.substr(at, 1 + size % 5));
  const auto in_pieces = pieces_parser.finish();
  if (in_pieces.ok() != list.ok() || (list.ok() && !same(in_pieces.value, list.value))) std::abort();
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
