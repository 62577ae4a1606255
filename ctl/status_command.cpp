// `status`: GET /admin/liveness (200 fresh, 503 stale: both carry the JSON)
// and the fail-safe gauge of /metrics.
#include <boost/json/serialize.hpp>

#include <cmath>
#include <ostream>
#include <sstream>

#include "ctl/commands.hpp"
#include "ctl/json_fields.hpp"
#include "ctl/table.hpp"

namespace healthsweep::ctl {

namespace {

std::string seconds_cell(const boost::json::value* v) {
  if (!v || !v->is_number()) return "-";
  const double s = v->to_number<double>();
  return format_age(std::chrono::milliseconds(std::llround(s * 1000)));
}

// healthsweep_failsafe_active from the Prometheus text: nullopt when absent.
std::optional<bool> failsafe_active(const std::string& metrics_text) {
  std::istringstream lines(metrics_text);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view name = "healthsweep_failsafe_active ";
    if (line.starts_with(name)) return std::stod(line.substr(name.size())) != 0;
  }
  return std::nullopt;
}

}  // namespace

ExitCode run_status(const Context& ctx) {
  const Reply liveness = ctx.admin.get("/admin/liveness");
  if (!liveness.reached || (liveness.status != 200 && liveness.status != 503)) return ctx.fail(liveness);
  auto body = ctx.json_body(liveness);
  if (!body || !body->is_object()) return ExitCode::failed;
  const Reply metrics = ctx.admin.get("/metrics");
  if (!metrics.success()) return ctx.fail(metrics);
  const auto failsafe = failsafe_active(metrics.body);

  auto& root = body->as_object();
  const bool fresh = liveness.status == 200;
  if (ctx.options.json) {
    root["failsafe_active"] = failsafe ? boost::json::value(*failsafe) : nullptr;
    ctx.out << boost::json::serialize(root) << '\n';
  } else {
    const std::string status = text_of(root, "status", "?");
    ctx.out << "daemon:    " << paint(status, status_colour(status), ctx.colour) << '\n';
    ctx.out << "fail-safe: "
            << (!failsafe ? "unknown" : *failsafe ? paint("ACTIVE (remediation suspended)", "31", ctx.colour)
                                                  : std::string("inactive"))
            << "\n\n";
    Table table({"SUBSYSTEM", "STATUS", "AGE", "STALE AFTER", "LAST TICK"});
    if (const auto* subs = root.if_contains("subsystems"); subs && subs->is_object()) {
      for (const auto& [name, v] : subs->as_object()) {
        if (!v.is_object()) continue;
        const auto& s = v.as_object();
        const std::string state = text_of(s, "status", "?");
        table.add({{std::string(name)},
                   {state, status_colour(state)},
                   // A disabled subsystem never ticks: its age means nothing.
                   {state == "disabled" ? "-" : seconds_cell(s.if_contains("age_seconds"))},
                   {seconds_cell(s.if_contains("stale_after_seconds"))},
                   {text_of(s, "last_tick")}});
      }
    }
    ctx.out << table.render(ctx.colour);
  }
  if (!fresh) return ctx.fail(ExitCode::failed, "a subsystem is stale (HTTP 503)");
  return ExitCode::ok;
}

}  // namespace healthsweep::ctl
