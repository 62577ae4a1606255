// Passive layer: the public API, the deadline timer, PTTL lookups and the
// verdicts. The connection life cycle and reconciliation are in
// passive_session.cpp.
#include "clients/net/log_failure.hpp"
#include "sweeps/passive/passive_layer_impl.hpp"

#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace healthsweep::sweeps::passive {

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::clients::redis;

namespace net = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

PassiveLayer::Impl::Impl(net::any_io_executor executor, const config::Redis& c, metrics::Metrics& m,
                         metrics::LivenessRegistry& l, EvidenceSink s, std::function<void(bool)> h,
                         PassiveOptions o)
    : ex(executor), opts(o), metrics(m), live(l), sink(std::move(s)), on_health(std::move(h)),
      tracker(o.initial_grace), keys(c.heartbeat_key), deadline_timer(executor), wake(executor), resubscribe(executor),
      rng(std::random_device{}()) {
  apply_config(c);
  tracker.set_prediction(o.ttl_sample_every, o.predict_margin);
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", static_cast<unsigned>(rng()),
                static_cast<unsigned>(rng()));
  probe_channel = std::string("healthsweep:passive-probe:") + suffix;
}

void PassiveLayer::Impl::apply_config(const config::Redis& c) {
  cfg = c;
  keys = HeartbeatKeyPattern(c.heartbeat_key);
  if (c.heartbeat_key.find("{id}") == std::string::npos)
    spdlog::warn("passive: heartbeat_key '{}' has no {{id}}; the id is appended", c.heartbeat_key);
  auto parsed = parse_redis_url(c.url);
  endpoint = std::move(parsed.endpoint);
  url_error = std::move(parsed.error);
  if (endpoint) keyspace_prefix = "__keyspace@" + std::to_string(endpoint->db) + "__:";
  else spdlog::error("passive: redis.url '{}' is not usable: {}", c.url, url_error);
  sentinels.clear();
  for (const auto& at : c.sentinels) {
    RedisEndpoint sentinel;  // no db, no password: a sentinel has its own (not supported yet)
    sentinel.host = at.host;
    sentinel.port = at.port;
    sentinels.push_back(std::move(sentinel));
  }
}

PassiveLayer::PassiveLayer(net::any_io_executor ex, const config::Redis& cfg, metrics::Metrics& m,
                           metrics::LivenessRegistry& live, EvidenceSink sink,
                           std::function<void(bool)> on_source_health, PassiveOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), cfg, m, live, std::move(sink),
                                   std::move(on_source_health), options)) {}

PassiveLayer::~PassiveLayer() { stop(); }

void PassiveLayer::start() {
  if (impl_->started || impl_->stopping) return;
  impl_->started = true;
  // Ticks come from reconciliations and deadline passes: allow two reconcile
  // intervals (and a reconnect's longest backoff) between them before
  // calling it stale.
  const auto budget = std::max(impl_->opts.stale_after,
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   impl_->cfg.reconcile_interval * 2 + impl_->opts.backoff_max));
  impl_->live.enable(metrics::Subsystem::redis, budget);
  impl_->live.enable(metrics::Subsystem::passive, budget);
  impl_->live.watch_loop(metrics::Subsystem::passive, impl_->loop_budget());
  impl_->start_watch();
  net::co_spawn(impl_->ex, [self = impl_]() { return self->run(); }, clients::net::log_failure("passive: layer stopped by an error"));
}

void PassiveLayer::stop() {
  auto& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  s.healthy = false;
  s.wake.cancel();
  s.resubscribe.cancel();
  s.deadline_timer.cancel();
  s.stop_watch();
  // Closing (not destroying): the session coroutine may be suspended inside
  // one of these connections; it resumes with operation_aborted and ends.
  if (s.cmd) s.cmd->close();
  if (s.sub) s.sub->close();
}

void PassiveLayer::set_targets(const std::vector<std::string>& ids, std::chrono::steady_clock::time_point now) {
  impl_->targets_added(impl_->tracker.set_targets(ids, now));
}

void PassiveLayer::change_targets(const std::vector<std::string>& added, const std::vector<std::string>& removed,
                                  std::chrono::steady_clock::time_point now) {
  impl_->targets_added(impl_->tracker.change_targets(added, removed, now));
}

void PassiveLayer::Impl::targets_added(std::vector<std::string> added) {
  // Looked up at once when we are running; otherwise the coming
  // reconciliation sees them anyway. With exact channels and notifications
  // on, once their channels are subscribed (keep_subscriptions): a refresh
  // between the lookup and the subscription would go unseen.
  const bool after_subscribing = opts.exact_channels && notifications;
  if (healthy && !after_subscribing)
    for (auto& id : added) lookups.insert(std::move(id));
  if (opts.exact_channels) resubscribe.cancel();
  for (auto it = lookups.begin(); it != lookups.end();)
    it = tracker.watched(*it) ? std::next(it) : lookups.erase(it);
  schedule_lookups();
  rearm();
}

bool PassiveLayer::source_healthy() const { return impl_->healthy; }

std::optional<std::chrono::system_clock::time_point> PassiveLayer::last_heartbeat(std::string_view id) const {
  return impl_->tracker.last_heartbeat(id);
}

void PassiveLayer::reconfigure(const config::Redis& c) {
  auto& s = *impl_;
  const auto& old = s.cfg;
  const bool sentinel = c.sentinels != old.sentinels || c.master_name != old.master_name;
  const bool identity = c.url != old.url || c.heartbeat_key != old.heartbeat_key || sentinel;
  const bool reconnect = identity || c.keyspace_events != old.keyspace_events;
  const bool interval = c.reconcile_interval != old.reconcile_interval;
  if (!reconnect && !interval) return;
  s.apply_config(c);
  if (s.started) s.live.watch_loop(metrics::Subsystem::passive, s.loop_budget());
  if (identity) {
    // Other keys, perhaps another server: what we knew proves nothing now.
    s.tracker.restart_grace(std::chrono::steady_clock::now());
    s.run_id.clear();
    s.reported_master.reset();
  }
  if (sentinel && s.started) s.start_watch();
  if (reconnect) {
    spdlog::info("passive: redis configuration changed; reconnecting to {}", c.url);
    s.restart_requested = true;
    s.set_health(false);
    if (s.cmd) s.cmd->close();
    if (s.sub) s.sub->close();
  }
  s.wake.cancel();
}

void PassiveLayer::Impl::tick(Clock::time_point now) {
  // Ticks are cheap but a reconciliation answers 100,000 PTTLs: ten a second is plenty.
  if (now - last_tick < 100ms) return;
  last_tick = now;
  live.tick(metrics::Subsystem::redis, now);
  live.tick(metrics::Subsystem::passive, now);
}

void PassiveLayer::Impl::query_pttl(const std::string& id) {
  if (!cmd) return;
  const auto key = keys.key(id);
  cmd->send({"PTTL", key}, [w = weak_from_this(), id, sent_at = Clock::now(),
                             sent_wall = std::chrono::system_clock::now()](error_code ec, const RedisReply& r) {
    if (auto s = w.lock()) s->on_pttl(id, sent_at, sent_wall, ec, r);
  });
}

void PassiveLayer::Impl::on_pttl(const std::string& id, Clock::time_point sent_at,
                                 std::chrono::system_clock::time_point sent_wall, error_code ec,
                                 const RedisReply& reply) {
  if (stopping || ec) return;  // a lost connection is handled by the session loop
  if (reply.type != RedisReply::Type::integer) {
    source_error("PTTL " + keys.key(id) + " answered " + (reply.is_error() ? reply.str : "a non-integer"));
    return;
  }
  const auto now = Clock::now();
  tick(now);
  const auto obs = tracker.observe_pttl(id, reply.integer, sent_at, sent_wall, now, std::chrono::system_clock::now());
  if (obs.key_without_ttl)
    spdlog::warn("passive: heartbeat key {} has no TTL; target {} counts as alive until it gets one or is deleted",
                 keys.key(id), id);
  if (obs.verdict) emit(*obs.verdict, sent_at);
  rearm();
}

void PassiveLayer::Impl::emit(const HeartbeatVerdict& v, std::optional<Clock::time_point> asked_at) {
  if (stopping) return;
  if (v.verdict == Verdict::dead) {
    // healthsweep_detections_total counts state changes to offline, in the
    // fleet; a dead verdict about a target already offline is no detection.
    // When the key was asked about, when: a late ask is the loop's delay
    // (the deadline's timer ran late), a late answer is Redis's.
    const auto ms_after = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - v.observed_at).count(); };
    const auto asked = asked_at ? fmt::format(" (asked {:.1f} ms after it)", ms_after(*asked_at)) : std::string();
    spdlog::info("passive: {} dead ({}), verdict {:.1f} ms after the deadline{}", v.target, v.reason,
                 ms_after(Clock::now()), asked);
  } else {
    spdlog::debug("passive: {} alive ({})", v.target, v.reason);  // 100,000 of them at start
  }
  if (sink) sink(Evidence{v.target, Layer::passive, v.verdict, v.reason, true, v.observed_at});
}

void PassiveLayer::Impl::on_message(std::string_view channel, std::string_view payload) {
  if (stopping) return;
  if (channel == probe_channel) {
    std::uint64_t seq = 0;
    for (const char c : payload) seq = seq * 10 + static_cast<unsigned>(c - '0');
    probe_seen = std::max(probe_seen, seq);
    return;
  }
  if (!channel.starts_with(keyspace_prefix)) return;
  const auto id = keys.id_of(channel.substr(keyspace_prefix.size()));
  if (!id || !tracker.watched(*id)) return;
  // A refresh (SET ... EX sends `expire`, and `set` when the server has '$'
  // on): the tracker predicts the deadline from the learnt TTL, or asks for
  // a measurement. del, expired, evicted, rename, persist...: whatever it
  // was, one PTTL tells the new deadline (or that the key is gone).
  if ((payload == "expire" || payload == "set") &&
      !tracker.observe_refresh(*id, Clock::now(), std::chrono::system_clock::now())) {
    rearm();
    return;
  }
  lookups.emplace(*id);
  schedule_lookups();
}

void PassiveLayer::Impl::schedule_lookups() {
  if (lookups_posted || !healthy || lookups.empty()) return;
  lookups_posted = true;
  // One flush per loop turn: a SET ... EX sends `set` and `expire`, one PTTL answers both.
  net::post(ex, [w = weak_from_this()] {
    if (auto s = w.lock()) s->flush_lookups();
  });
}

void PassiveLayer::Impl::flush_lookups() {
  lookups_posted = false;
  if (!healthy || stopping) return;  // kept for after the next reconciliation
  // In slices: 100,000 new targets at once must not hold the loop.
  std::size_t sent = 0;
  for (auto it = lookups.begin(); it != lookups.end() && sent < opts.max_batch; ++sent) {
    query_pttl(*it);
    it = lookups.erase(it);
  }
  schedule_lookups();
}

void PassiveLayer::Impl::rearm() {
  if (stopping || !healthy) return;
  const auto next = tracker.next_wake();
  if (!next || (armed_at && *armed_at <= *next)) return;
  armed_at = *next;
  deadline_timer.expires_at(*next);
  deadline_timer.async_wait([w = weak_from_this()](error_code ec) {
    auto s = w.lock();
    if (!s || ec) return;
    s->armed_at.reset();
    s->on_deadlines();
  });
}

void PassiveLayer::Impl::on_deadlines() {
  if (stopping || !healthy) return;
  const auto now = Clock::now();
  // Leased for one command timeout: if the answer is lost with the
  // connection, the target comes due again (after the reconciliation).
  for (const auto& id : tracker.take_due(now, opts.command_timeout, opts.max_batch)) query_pttl(id);
  rearm();  // more due (beyond max_batch): fires at once, after other work had a turn
}

void PassiveLayer::Impl::set_health(bool h) {
  if (healthy == h) return;
  healthy = h;
  if (!h) {
    deadline_timer.cancel();
    armed_at.reset();
  }
  if (stopping) return;
  if (on_health) on_health(h);
  if (h) {
    schedule_lookups();
    rearm();
  }
}

void PassiveLayer::Impl::source_error(const std::string& what) {
  if (stopping || link_lost) return;
  spdlog::warn("passive: redis error ({}); no passive verdicts until reconnected and reconciled", what);
  link_lost = true;
  set_health(false);
  wake.cancel();
}

}  // namespace healthsweep::sweeps::passive
