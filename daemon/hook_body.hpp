// The body of POST /hooks/connection-error:
//   {"target":"ws-1","error":"connect ECONNREFUSED","source":"a2a-proxy"}
// Parsed strictly: an object; `target` a non-empty string; `error` and
// `source` strings when present; other keys ignored (senders add context).
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace healthsweep::daemon {

struct HookReport {
  std::string target;
  std::string error;
  std::string source;
};

struct HookBodyError {
  std::string message;  // for the 400 JSON answer
};

std::variant<HookReport, HookBodyError> parse_hook_body(std::string_view body);

}  // namespace healthsweep::daemon
