// healthsweepctl's exit codes (README "healthsweepctl"), and how an answer of
// the admin API maps onto them.
#pragma once

#include <string>

namespace healthsweep::ctl {

enum class ExitCode : int {
  ok = 0,           // the command did what was asked
  failed = 1,       // the daemon answered no (non-2xx, unknown target, stale, queue full)
  usage = 2,        // unknown command or flag, bad value, unreadable or invalid config
  unreachable = 3,  // nothing answered at the address: connection refused, timeout
};

// One request's result as the admin client saw it.
struct Reply {
  bool reached = false;  // an HTTP response arrived (false: connect/send/receive failed)
  std::string error;     // why not, when !reached
  int status = 0;
  std::string body;
  std::string link;      // the Link header (RFC 8288): GET /admin/targets names its next page

  bool success() const { return reached && status >= 200 && status < 300; }
};

ExitCode exit_code_for(const Reply& reply);

// The message for a failed reply: the transport error, or the daemon's
// {"error": "..."} with the HTTP status ("HTTP 404: unknown target").
std::string failure_message(const Reply& reply);

}  // namespace healthsweep::ctl
