// `reset ID` and `sweep ID`: the admin API's two POSTs, with the bearer token.
#include <ostream>

#include "ctl/commands.hpp"

namespace healthsweep::ctl {

namespace {

// The answers both share: unknown target, and the token refused.
std::optional<ExitCode> common_failure(const Context& ctx, const Reply& reply) {
  if (!reply.reached) return ctx.fail(reply);
  if (reply.status == 404) return ctx.fail(ExitCode::failed, "unknown target '" + ctx.options.id + "'");
  if (reply.status == 401 || reply.status == 403)
    return ctx.fail(ExitCode::failed, failure_message(reply) + " (the token comes from --token-file or the "
                                      "config's auth.token_file)");
  return std::nullopt;
}

ExitCode done(const Context& ctx, const Reply& reply, const std::string& message) {
  if (ctx.options.json)
    ctx.out << reply.body << '\n';
  else
    ctx.out << message << '\n';
  return ExitCode::ok;
}

}  // namespace

ExitCode run_reset(const Context& ctx) {
  const Reply reply = ctx.admin.post(target_path(ctx.options.id, "/reset"));
  if (auto failed = common_failure(ctx, reply)) return *failed;
  if (!reply.success()) return ctx.fail(reply);
  return done(ctx, reply, "target " + ctx.options.id + " reset: quarantine and backoff cleared");
}

ExitCode run_sweep(const Context& ctx) {
  const Reply reply = ctx.admin.post(target_path(ctx.options.id, "/sweep"));
  if (auto failed = common_failure(ctx, reply)) return *failed;
  if (reply.status == 429)
    return ctx.fail(ExitCode::failed, "the daemon's check queue is full: try again in a second");
  if (!reply.success()) return ctx.fail(reply);
  auto body = ctx.json_body(reply);
  if (!body) return ExitCode::failed;
  const auto* c = body->is_object() ? body->as_object().if_contains("coalesced") : nullptr;
  const bool coalesced = c && c->is_bool() && c->as_bool();
  return done(ctx, reply, "sweep of " + ctx.options.id + (coalesced ? " already pending (coalesced)" : " queued"));
}

}  // namespace healthsweep::ctl
