// Passive layer: connecting, keyspace notifications, reconciliation, and
// what happens when Redis goes away. One coroutine (run) owns the session;
// everything else reacts to replies and timers.
#include "sweeps/passive/passive_layer_impl.hpp"

#include "clients/net/log_failure.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace healthsweep::sweeps::passive {

using namespace healthsweep::clients::redis;

namespace net = boost::asio;
using boost::system::error_code;

namespace {

// notify-keyspace-events flags we need, merged into what the server has:
// K keyspace channel, g del/expire/rename..., x expired, e evicted. Not '$'
// (set): SET ... EX sends `expire` (g) too, so '$' would only double every
// refresh's notifications (issue 15); a SET without a TTL leaves no deadline
// to track, and the next PTTL or reconciliation sees it.
std::string merge_notify_flags(const std::string& current) {
  static constexpr std::string_view all_alias = "g$lshzxetd";  // what 'A' stands for
  std::string merged = current;
  for (const char c : std::string_view("Kgxe")) {
    const bool have = current.find(c) != std::string::npos ||
                      (current.find('A') != std::string::npos && all_alias.find(c) != std::string_view::npos);
    if (!have) merged.push_back(c);
  }
  return merged;
}

std::string run_id_of(const std::string& info) {
  const auto at = info.find("run_id:");
  if (at == std::string::npos) return {};
  const auto end = info.find_first_of("\r\n", at);
  return info.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

}  // namespace

net::awaitable<void> PassiveLayer::Impl::sleep_for(std::chrono::milliseconds d) {
  wake.expires_after(d);
  error_code ec;
  co_await wake.async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<void> PassiveLayer::Impl::run() {
  auto self = shared_from_this();  // alive until this coroutine ends
  auto backoff = opts.backoff_initial;
  while (!stopping) {
    turn();
    link_lost = false;
    restart_requested = false;
    if (co_await open_session()) {
      backoff = opts.backoff_initial;
      connect_failures = 0;
      auto pass_started = Clock::now();
      while (!stopping && !link_lost && !restart_requested) {
        turn();
        // One pass per interval, start to start: a pass takes half of it.
        const auto next = pass_started + cfg.reconcile_interval;
        co_await sleep_for(std::chrono::ceil<std::chrono::milliseconds>(
            std::max(next - Clock::now(), Clock::duration::zero())));
        if (stopping || link_lost || restart_requested) break;
        if (Clock::now() < next) continue;  // woken early (set_targets, reconfigure)
        pass_started = Clock::now();
        if (!co_await spread_reconcile()) break;
      }
    }
    set_health(false);
    close_session();
    if (stopping) break;
    if (restart_requested) continue;
    // Jittered exponential backoff: a fleet of daemons does not reconnect in step.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const double delay_ms = static_cast<double>(backoff.count()) * jitter(rng);
    co_await sleep_for(std::chrono::milliseconds(static_cast<long>(delay_ms)));
    backoff = std::min(backoff * 2, opts.backoff_max);
  }
  close_session();
}

void PassiveLayer::Impl::turn() { live.loop_tick(metrics::Subsystem::passive); }

// Between two turns the loop awaits at most a reconcile interval or a
// jittered backoff, then either one SCAN page or the opening of a session:
// two connects and at most eight commands (INFO, CONFIG GET/SET, PSUBSCRIBE,
// SUBSCRIBE, DBSIZE, the first SCAN...), each bounded by its timeout. Through
// Sentinel a session first asks each sentinel (a connect and one command
// each) and sends ROLE: a silent sentinel must not pass for a stuck loop.
std::chrono::milliseconds PassiveLayer::Impl::loop_budget() const {
  const auto asking = cfg.uses_sentinel() ? static_cast<long>(cfg.sentinels.size()) *
                                                    (opts.connect_timeout + opts.command_timeout) +
                                                opts.command_timeout
                                          : std::chrono::milliseconds(0);
  return cfg.reconcile_interval + opts.backoff_max * 6 / 5 + 2 * opts.connect_timeout + 8 * opts.command_timeout +
         asking;
}

void PassiveLayer::Impl::close_session() {
  if (cmd) cmd->close();
  if (sub) sub->close();
  notifications = false;
  subscribed_ids.clear();
  resubscribe.cancel();
}

void PassiveLayer::Impl::connect_failed(const std::string& what) {
  ++connect_failures;
  // Loud once, then every 20th attempt: an outage must not flood the log.
  if (connect_failures == 1 || connect_failures % 20 == 0)
    spdlog::warn("passive: {}; attempt {}", what, connect_failures);
}

void PassiveLayer::Impl::on_link_lost(std::uint64_t s, std::string_view which, const std::string& why) {
  if (stopping || s != session || link_lost) return;
  spdlog::warn("passive: redis {} connection lost ({}); no passive verdicts until reconnected and reconciled",
               which, why);
  link_lost = true;
  set_health(false);
  wake.cancel();
}

net::awaitable<bool> PassiveLayer::Impl::open_session() {
  if (!endpoint) {
    spdlog::error("passive: not connecting: redis.url is not usable ({})", url_error);
    co_return false;
  }
  const auto my_session = ++session;
  if (cfg.uses_sentinel()) {
    // Asked again at every (re)connect: a lost master may have been failed over.
    auto master = co_await find_master();
    if (!master || stopping || restart_requested) co_return false;
    server = std::move(master);
  } else {
    server = endpoint;
  }
  const RedisConnection::Options copts{opts.connect_timeout, opts.command_timeout};
  cmd = std::make_unique<RedisConnection>(ex, *server, copts);
  cmd->set_close_handler([w = weak_from_this(), my_session, c = cmd.get()](error_code) {
    if (auto s = w.lock()) s->on_link_lost(my_session, "command", s->cmd.get() == c ? c->last_error() : "");
  });
  if (const auto ec = co_await cmd->connect()) {
    if (!stopping && !restart_requested)
      connect_failed("cannot connect to redis " + server->describe() + " (" +
                     (cmd->last_error().empty() ? ec.message() : cmd->last_error()) + ")");
    co_return false;
  }
  if (stopping || link_lost || restart_requested) co_return false;
  if (cfg.uses_sentinel() && !co_await confirm_master()) co_return false;
  tick(Clock::now());
  co_await check_server_identity();
  ++sessions_opened;

  notifications = false;
  if (cfg.keyspace_events) {
    co_await enable_notifications();
    if (!co_await subscribe()) co_return false;
  } else if (sessions_opened == 1) {
    spdlog::info("passive: keyspace_events is off: deadlines come from reconciliation only (every {} ms)",
                 cfg.reconcile_interval.count());
  }
  if (stopping || link_lost || restart_requested) co_return false;

  // A full reconciliation before any verdict: what we knew may be stale.
  if (!co_await reconcile()) co_return false;
  if (stopping || link_lost || restart_requested) co_return false;
  spdlog::info("passive: redis {} connected and reconciled ({} targets, notifications {})",
               server->describe(), tracker.size(), notifications ? "on" : "off");
  set_health(true);
  co_return true;
}

net::awaitable<void> PassiveLayer::Impl::check_server_identity() {
  std::vector<std::string> info_cmd{"INFO", "server"};
  const auto info = co_await cmd->command(std::move(info_cmd));
  const std::string id =
      !info.ec && info.reply.type == RedisReply::Type::string ? run_id_of(info.reply.str) : std::string();
  // A different server (restart without persistence, failover) may have lost
  // keys of live targets; unknown identity (INFO refused) after a reconnect
  // is treated the same way.
  if (sessions_opened > 0 && (id.empty() || id != run_id)) {
    spdlog::warn("passive: redis server changed (run_id {} -> {}); a missing heartbeat counts as dead only "
                 "after a grace of {} ms", run_id.empty() ? "?" : run_id, id.empty() ? "?" : id,
                 tracker.grace().count());
    tracker.restart_grace(Clock::now());
  }
  run_id = id;
}

net::awaitable<void> PassiveLayer::Impl::enable_notifications() {
  const auto refused = [this](const std::string& why) {
    spdlog::warn("passive: CONFIG refused ({}): cannot enable keyspace notifications; subscribing anyway "
                 "(they arrive if the server has them on), deadlines come from reconciliation every {} ms",
                 why, cfg.reconcile_interval.count());
  };
  std::vector<std::string> get_cmd{"CONFIG", "GET", "notify-keyspace-events"};
  const auto got = co_await cmd->command(std::move(get_cmd));
  if (got.ec) co_return;  // the connection is gone; the session fails on the next command
  if (got.reply.is_error() || got.reply.elements.size() != 2) {
    refused(got.reply.is_error() ? got.reply.str : "unexpected CONFIG GET reply");
    co_return;
  }
  const auto current = got.reply.elements[1].str;
  const auto merged = merge_notify_flags(current);
  if (merged == current) co_return;
  std::vector<std::string> set_cmd{"CONFIG", "SET", "notify-keyspace-events", merged};
  const auto set = co_await cmd->command(std::move(set_cmd));
  if (set.ec) co_return;
  if (set.reply.is_error()) {
    refused(set.reply.str);
    co_return;
  }
  spdlog::info("passive: keyspace notifications enabled (notify-keyspace-events '{}' -> '{}')", current, merged);
}

net::awaitable<bool> PassiveLayer::Impl::subscribe() {
  const RedisConnection::Options copts{opts.connect_timeout, opts.command_timeout};
  sub = std::make_unique<RedisConnection>(ex, *server, copts);
  const auto my_session = session;
  sub->set_close_handler([w = weak_from_this(), my_session, c = sub.get()](error_code) {
    if (auto s = w.lock()) s->on_link_lost(my_session, "pub/sub", s->sub.get() == c ? c->last_error() : "");
  });
  sub->set_message_handler([this](std::string_view channel, std::string_view payload) {
    on_message(channel, payload);  // the connection never outlives us and is closed first
  });
  if (const auto ec = co_await sub->connect()) {
    spdlog::warn("passive: pub/sub connection to redis failed ({})", sub->last_error());
    co_return false;
  }
  // Keyspace channel per heartbeat key, filtered by Redis: only our keys'
  // events cross the wire, whatever else the instance holds (a keyevent
  // subscription would bring every `set` of every key). One pattern for
  // all, or (exact_channels) each watched key's own channel, so that
  // instances sharing a Redis do not each receive every instance's keys.
  subscribed_ids.clear();
  const auto what = opts.exact_channels ? "SUBSCRIBE " + keyspace_prefix + "<key> x " + std::to_string(tracker.size())
                                        : "PSUBSCRIBE " + keyspace_prefix + keys.glob();
  const auto ec = opts.exact_channels ? co_await subscribe_watched()
                                      : co_await sub->psubscribe(keyspace_prefix + keys.glob());
  if (ec) {
    if (ec != net::error::access_denied) co_return false;
    spdlog::warn("passive: {} refused ({}); reconciliation only", what, sub->last_error());
    sub->close();
    subscribed_ids.clear();
    co_return true;
  }
  if (!opts.exact_channels && co_await sub->subscribe(probe_channel)) co_return false;
  probe_sent = probe_seen = 0;
  notifications = true;
  if (opts.exact_channels)
    net::co_spawn(ex, keep_subscriptions(session), clients::net::log_failure("passive: subscriptions"));
  co_return true;
}

net::awaitable<bool> PassiveLayer::Impl::reconcile() {
  const auto t0 = Clock::now();
  tracker.begin_reconcile();
  lookups.clear();  // the SCAN looks at every key; changes from now on queue again
  const std::string match = keys.glob();
  // COUNT sized to the keyspace: about 256 SCANs per pass, however many
  // other keys share the instance, each a bounded amount of work for Redis.
  std::vector<std::string> dbsize_cmd{"DBSIZE"};
  const auto dbsize = co_await cmd->command(std::move(dbsize_cmd));
  const long long keys_total = dbsize.reply.type == RedisReply::Type::integer ? dbsize.reply.integer : 0;
  const std::string count = std::to_string(
      std::clamp<long long>(keys_total / 256, opts.scan_count, 10LL * opts.scan_count));
  std::string cursor = "0";
  bool ok = true;
  std::string why;
  do {
    // One SCAN at a time; the PTTLs of its keys are pipelined behind it and
    // answered before the next SCAN's reply, so the loop never holds more
    // than one batch and other work runs between batches.
    std::vector<std::string> scan{"SCAN", cursor, "MATCH", match, "COUNT", count};
    turn();  // a reconciliation of 100,000 keys is many turns, each bounded
    const auto r = co_await cmd->command(std::move(scan));
    if (stopping || link_lost || restart_requested || r.ec) {
      ok = false;
      why = r.ec ? cmd->last_error() : "interrupted";
      break;
    }
    if (r.reply.is_error() || r.reply.elements.size() != 2) {
      ok = false;
      why = "SCAN answered " + (r.reply.is_error() ? r.reply.str : "something unexpected");
      source_error(why);  // LOADING and the like: reconnect and start over
      break;
    }
    cursor = r.reply.elements[0].str;
    for (const auto& key : r.reply.elements[1].elements) {
      const auto id = keys.id_of(key.str);
      if (id && tracker.watched(*id)) query_pttl(std::string(*id));
    }
  } while (cursor != "0");

  if (ok) {
    // Believed alive but not seen: deleted while we missed the notification
    // (or created during the SCAN); one PTTL each tells which.
    for (const auto& id : tracker.unseen_alive()) query_pttl(id);
    ok = check_probe(why);
  }
  if (ok) {
    std::vector<std::string> ping{"PING"};  // every PTTL above is answered once this is
    const auto r = co_await cmd->command(std::move(ping));
    if (r.ec || r.reply.is_error() || stopping || link_lost) {
      ok = false;
      why = r.ec ? cmd->last_error() : r.reply.is_error() ? r.reply.str : "interrupted";
    }
  }
  if (stopping) co_return false;
  const auto seconds = reconciled(t0, ok, why);
  if (ok) spdlog::debug("passive: reconciled {} targets in {:.1f} ms", tracker.size(), seconds * 1e3);
  co_return ok;
}

double PassiveLayer::Impl::reconciled(Clock::time_point t0, bool ok, const std::string& why) {
  const auto seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  metrics.sweep_run("passive_reconcile", ok, seconds);
  if (ok) {
    last_tick = {};  // a pass is a tick whatever the 100 ms throttle says
    tick(Clock::now());
  } else {
    spdlog::warn("passive: reconciliation failed after {:.1f} ms: {}", seconds * 1e3, why);
  }
  return seconds;
}

bool PassiveLayer::Impl::check_probe(std::string& why) {
  if (!notifications) return true;
  if (probe_sent > probe_seen + 1) {
    why = "pub/sub probe messages stopped arriving";
    source_error(why);
    return false;
  }
  cmd->send({"PUBLISH", probe_channel, std::to_string(++probe_sent)},
            [w = weak_from_this()](error_code ec, const RedisReply& r) {
              auto s = w.lock();
              if (s && !ec && r.type == RedisReply::Type::integer && r.integer == 0)
                s->source_error("the pub/sub connection is no longer subscribed");
            });
  return true;
}

}  // namespace healthsweep::sweeps::passive
