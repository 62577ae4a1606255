#include <signal.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <iostream>

#include "ctl/commands.hpp"
#include "ctl/table.hpp"

namespace healthsweep::ctl {

namespace {

volatile std::sig_atomic_t stop_flag = 0;

extern "C" void on_stop_signal(int) { stop_flag = 1; }

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() and nanosleep() return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return stop_flag != 0; }

ExitCode Context::fail(ExitCode code, const std::string& message) const {
  err << "healthsweepctl: " << message << std::endl;
  return code;
}

ExitCode Context::fail(const Reply& reply) const { return fail(exit_code_for(reply), failure_message(reply)); }

std::optional<boost::json::value> Context::json_body(const Reply& reply) const {
  boost::system::error_code ec;
  auto v = boost::json::parse(reply.body, ec);
  if (ec) {
    fail(ExitCode::failed, "the daemon's answer is not JSON: " + ec.message());
    return std::nullopt;
  }
  return v;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto parsed = parse_args(args);
  if (!parsed.options) {
    err << "healthsweepctl: " << parsed.error << "\n(healthsweepctl --help lists commands and flags)"
        << std::endl;
    return static_cast<int>(ExitCode::usage);
  }
  const Options& o = *parsed.options;
  if (o.command == Command::help) {
    out << usage_text();
    return 0;
  }
  const auto resolved = resolve_settings(o);
  if (!resolved.settings) {
    err << "healthsweepctl: " << resolved.error << std::endl;
    return static_cast<int>(ExitCode::usage);
  }
  AdminClient admin(resolved.settings->url, resolved.settings->token, o.timeout);
  const Context ctx{o, *resolved.settings, admin, colour_wanted(STDOUT_FILENO), out, err};
  ExitCode code = ExitCode::ok;
  switch (o.command) {
    case Command::status: code = run_status(ctx); break;
    case Command::targets: code = run_targets(ctx); break;
    case Command::target: code = run_target(ctx); break;
    case Command::reset: code = run_reset(ctx); break;
    case Command::sweep: code = run_sweep(ctx); break;
    case Command::events: code = run_events(ctx); break;
    case Command::help: break;
  }
  out.flush();
  return static_cast<int>(code);
}

}  // namespace healthsweep::ctl
