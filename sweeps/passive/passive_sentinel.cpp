// Passive layer through Redis Sentinel: each session asks the sentinels for
// the master and confirms it with ROLE; a SentinelWatch follows failovers and
// a reported master other than the session's ends the session. The next one
// is like any reconnection to a changed server: no verdict before a full
// reconciliation, and a missing key is no evidence before a full grace
// (check_server_identity sees another run_id). While no master can be found
// the session loop backs off as in an outage: source unhealthy, no verdicts,
// the `redis` liveness subsystem going stale.
#include "sweeps/passive/passive_layer_impl.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace healthsweep::sweeps::passive {

using namespace healthsweep::clients::redis;

namespace net = boost::asio;

net::awaitable<std::optional<RedisEndpoint>> PassiveLayer::Impl::find_master() {
  const auto previous = server;
  if (auto reported = std::exchange(reported_master, std::nullopt)) {
    // A sentinel has just announced it: asking now could reach one that has
    // not heard yet and still names the old master, which stays a master
    // (ROLE) until the sentinels demote it, seconds later.
    spdlog::info("passive: following {} as the master of '{}' (was {})", host_port(*reported), cfg.master_name,
                 previous ? host_port(*previous) : std::string("?"));
    co_return reported;
  }
  const RedisConnection::Options copts{opts.connect_timeout, opts.command_timeout};
  const auto found = co_await ask_sentinels(ex, sentinels, cfg.master_name, *endpoint, copts);
  if (stopping) co_return std::nullopt;
  if (!found.master) {
    connect_failed("no sentinel named a master for '" + cfg.master_name + "' (" + found.error + ")");
    co_return std::nullopt;
  }
  if (!previous || !same_server(*previous, *found.master))
    spdlog::info("passive: sentinel {} names {} as the master of '{}'{}", found.answered_by,
                 host_port(*found.master), cfg.master_name,
                 previous ? " (was " + host_port(*previous) + ")" : std::string());
  co_return found.master;
}

net::awaitable<bool> PassiveLayer::Impl::confirm_master() {
  const auto why = co_await clients::redis::confirm_master(*cmd);
  if (stopping || link_lost || restart_requested) co_return false;
  if (why.empty()) co_return true;
  // A sentinel not yet told of a failover, or a demoted master: ask again
  // after the backoff.
  connect_failed("redis " + host_port(*server) + " named master of '" + cfg.master_name + "' is not one (" + why +
                 "); asking the sentinels again");
  co_return false;
}

void PassiveLayer::Impl::start_watch() {
  stop_watch();
  if (!cfg.uses_sentinel() || !endpoint || stopping) return;
  SentinelWatch::Options wo;
  wo.connection = {opts.connect_timeout, opts.command_timeout};
  wo.backoff_initial = opts.backoff_initial;
  wo.backoff_max = opts.backoff_max;
  watch = std::make_unique<SentinelWatch>(ex, sentinels, cfg.master_name, *endpoint, wo);
  watch->start([w = weak_from_this()](const RedisEndpoint& master, const std::string& how) {
    if (auto s = w.lock()) s->on_master_reported(master, how);
  });
}

void PassiveLayer::Impl::stop_watch() {
  if (watch) watch->stop();
  watch.reset();
}

void PassiveLayer::Impl::on_master_reported(const RedisEndpoint& master, const std::string& how) {
  // Before the first session, or already on it: nothing to do. A session
  // still asking the sentinels compares when it gets its answer.
  if (stopping || !server || same_server(*server, master)) return;
  spdlog::warn("passive: the master of '{}' moved from {} to {} ({}); following it: no passive verdicts until "
               "reconnected and reconciled",
               cfg.master_name, host_port(*server), host_port(master), how);
  reported_master = master;
  restart_requested = true;
  set_health(false);
  if (cmd) cmd->close();
  if (sub) sub->close();
  wake.cancel();
}

}  // namespace healthsweep::sweeps::passive
