#include "ctl/exit_code.hpp"

#include <boost/json/parse.hpp>

namespace healthsweep::ctl {

ExitCode exit_code_for(const Reply& reply) {
  if (!reply.reached) return ExitCode::unreachable;
  return reply.success() ? ExitCode::ok : ExitCode::failed;
}

std::string failure_message(const Reply& reply) {
  if (!reply.reached) return "daemon not reachable: " + reply.error;
  std::string out = "HTTP " + std::to_string(reply.status);
  boost::system::error_code ec;
  const auto body = boost::json::parse(reply.body, ec);
  if (!ec && body.is_object()) {
    if (const auto* message = body.as_object().if_contains("error"); message && message->is_string())
      return out + ": " + std::string(message->as_string());
  }
  return out;
}

}  // namespace healthsweep::ctl
