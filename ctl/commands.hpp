// The commands of healthsweepctl. Each prints to ctx.out (results) and
// ctx.err (problems, prefixed "healthsweepctl: ") and returns its exit code.
#pragma once

#include <boost/json/value.hpp>

#include <iosfwd>
#include <optional>
#include <string>

#include "ctl/admin_client.hpp"
#include "ctl/exit_code.hpp"
#include "ctl/options.hpp"
#include "ctl/settings.hpp"

namespace healthsweep::ctl {

struct Context {
  const Options& options;
  const Settings& settings;
  AdminClient& admin;
  bool colour;  // ANSI colour on ctx.out
  std::ostream& out;
  std::ostream& err;

  // Prints "healthsweepctl: <message>" on err and returns `code`.
  ExitCode fail(ExitCode code, const std::string& message) const;
  // A failed reply: its message, and its exit code (1 or 3).
  ExitCode fail(const Reply& reply) const;
  // The reply's body as JSON; nullopt (with a message printed) when it is not.
  std::optional<boost::json::value> json_body(const Reply& reply) const;
};

ExitCode run_status(const Context& ctx);
ExitCode run_targets(const Context& ctx);
ExitCode run_target(const Context& ctx);
ExitCode run_reset(const Context& ctx);
ExitCode run_sweep(const Context& ctx);
ExitCode run_events(const Context& ctx);

// The whole program: arguments (without the program name) to an exit status.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Ctrl-C and SIGTERM end `events --follow` cleanly (exit 0): the handlers set
// a flag and interrupt blocking waits (no SA_RESTART).
void install_stop_handlers();
bool stop_requested();

}  // namespace healthsweep::ctl
