#include "daemon/hook_body.hpp"

#include "clients/scratch_json.hpp"

namespace healthsweep::daemon {

std::variant<HookReport, HookBodyError> parse_hook_body(std::string_view body) {
  boost::system::error_code ec;
  // One report a second per target at fleet size: 10,000 a second. A body
  // of up to 1 KiB (a usual report is under 100 bytes) is parsed without a
  // heap allocation. Boost.JSON rejects invalid UTF-8 in strings and
  // trailing garbage.
  clients::ScratchDocument<1024> scratch;
  const boost::json::value v = scratch.parse(body, ec);
  if (ec) return HookBodyError{"body is not valid JSON: " + ec.message()};
  const auto* obj = v.if_object();
  if (!obj) return HookBodyError{"body must be a JSON object"};
  HookReport report;
  const auto* target = obj->if_contains("target");
  if (!target) return HookBodyError{"missing \"target\""};
  if (!target->is_string()) return HookBodyError{"\"target\" must be a string"};
  report.target = target->get_string();
  if (report.target.empty() || report.target.size() > 256)
    return HookBodyError{"\"target\" must be 1 to 256 characters"};
  for (auto [key, out] : {std::pair{"error", &report.error}, std::pair{"source", &report.source}}) {
    const auto* field = obj->if_contains(key);
    if (!field || field->is_null()) continue;
    if (!field->is_string()) return HookBodyError{std::string("\"") + key + "\" must be a string"};
    *out = field->get_string();
  }
  return report;
}

}  // namespace healthsweep::daemon
