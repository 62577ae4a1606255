#include "daemon/components.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <optional>
#include <span>
#include <unordered_set>

#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "clients/http/connection_pool.hpp"
#include "clients/http/webhook_client.hpp"
#include "clients/net/log_failure.hpp"
#include "cluster/cluster_json.hpp"
#include "cluster/hook_routing.hpp"
#include "cluster/membership.hpp"
#include "cluster/ownership.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "store/fleet_list.hpp"
#include "store/store.hpp"
#include "store/transition_event.hpp"
#include "sweeps/check_now.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/fleet.hpp"
#include "sweeps/passive/passive_layer.hpp"
#include "sweeps/postgres_targets.hpp"
#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/reactive/reactive_layer.hpp"
#include "sweeps/remediator.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::daemon {

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
using namespace healthsweep::sweeps::proactive;
using namespace healthsweep::sweeps::reactive;
using namespace healthsweep::sweeps;

namespace net = boost::asio;

namespace {

std::vector<TargetSpec> static_specs(const config::Config& cfg) {
  std::vector<TargetSpec> out;
  for (const auto& s : cfg.targets.static_targets)
    out.push_back(TargetSpec{s.id, s.container, s.http, s.tcp, s.paused});
  return out;
}

// The fail-safe's reason while this instance may not act: "evidence source
// cluster lease unhealthy".
constexpr std::string_view cluster_lease_source = "cluster lease";

// A peer's offline count reaches this instance within 2 x renew_every (the
// peer publishes it at its next renewal, this instance reads it at its
// own), while a restart here waits only `settle` after its target went down:
// when targets die here and on peers at once, a shorter settle lets the
// first restarts here out before the fleet-wide fail-safe can see the rest.
void warn_if_settle_outruns_peers(const config::Config& cfg) {
  const auto& r = cfg.restart;
  if (!r.enabled || r.via == config::RestartVia::none) return;
  const auto reach = cfg.cluster.renew_every * 2;
  if (r.settle >= reach) return;
  spdlog::warn("cluster: remediation.restart.settle {} is shorter than 2 x cluster.renew_every ({}), the time "
               "peers' offline counts take to arrive: targets dying here together with a peer's may be "
               "restarted before the fleet-wide fail-safe sees the peer's (README, Several instances)",
               format_duration(r.settle), format_duration(reach));
}

// A forwarded hook report waits this long for the owner's answer: the
// caller of the hook waits for it too, and a live owner answers at once.
constexpr std::chrono::milliseconds forward_timeout{2000};
// The fleet list's whole answer (the wait for its connection included).
constexpr std::chrono::milliseconds fleet_list_timeout{5000};

// The owner's answer as the hook relays it. By value: the frame outlives the request.
net::awaitable<PeerReply> peer_reply(net::awaitable<JsonAnswer> pending) {
  auto got = co_await std::move(pending);
  co_return PeerReply{got.outcome.http_status, std::move(got.body), std::move(got.outcome.detail)};
}

net::awaitable<FleetPage> fleet_page_of(net::awaitable<store::FleetListPage> pending) {
  auto got = co_await std::move(pending);
  FleetPage out;
  if (got.ok) out.page = TargetPage{std::move(got.json), std::move(got.next)};
  else out.error = std::move(got.error);
  co_return out;
}

bool needs_proactive(const config::Config& cfg) {
  if (cfg.engine.enabled) return true;
  for (const auto& s : cfg.targets.static_targets)
    if (!s.http.empty() || s.tcp) return true;
  return false;
}

}  // namespace

struct Components::Impl {
  Impl(net::io_context& io, const config::Config& c, metrics::Metrics& m, metrics::LivenessRegistry& l)
      : ioc(io), cfg(c), metrics(m), liveness(l), http(io.get_executor()), webhook(io.get_executor()),
        fleet(io.get_executor(), c, m) {}

  net::io_context& ioc;
  // The running configuration, but for targets.static_targets: emptied once
  // the fleet took them in (build(), reconfigure()).
  config::Config cfg;
  metrics::Metrics& metrics;
  metrics::LivenessRegistry& liveness;
  std::unique_ptr<EngineClient> engine;
  HttpChecker http;
  WebhookClient webhook;
  Fleet fleet;
  std::unique_ptr<Remediator> remediator;
  std::unique_ptr<ProactiveLayer> proactive;
  std::unique_ptr<ReactiveLayer> reactive;
  std::unique_ptr<PassiveLayer> passive;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::TargetQuery> target_query;
  // Built at start(): the advertised address may need the listener's port.
  std::unique_ptr<cluster::Membership> membership;
  // The fleet's additions and removals since the passive layer last heard
  // of them (an id is in at most one of the two: its latest change).
  std::unordered_set<std::string> passive_added, passive_removed;
  bool passive_targets_dirty = false;
  // Ownership (cluster/ownership.hpp): the members that own targets as last
  // read, and the locality key of this instance's engine (empty until the
  // engine answered: its containers are judged by nobody until then).
  std::vector<cluster::LiveMember> owners;
  // The owners plus this instance while it holds a lease but is not an
  // owner yet (joining): empty otherwise. Only for the unowned gauge.
  std::vector<cluster::LiveMember> joining;
  std::string engine_key;
  net::steady_timer identity_retry{ioc};
  // With the cluster section: hook reports forwarded to their owners (keep-
  // alive connections to the peers), and the fleet-wide target list.
  std::unique_ptr<HttpConnectionPool> peers;
  std::unique_ptr<store::FleetList> fleet_list;

  void build();
  void own_by_cluster();
  void reown();
  void learn_engine_identity();
  // Where a target may be owned (its engine, its pin); none while this
  // instance has no engine identity for an engine container.
  std::optional<cluster::Locality> locality_of(const TargetSpec& spec) const;
  Fleet::Owner owns(const TargetSpec& spec) const;
  // The owner by the last member list; empty when none may own it.
  std::string_view owner_of(const TargetSpec& spec) const;
  OwnerRef owner_ref(std::string_view owner) const;
  net::awaitable<PeerReply> forward(const OwnerRef& owner, HookRequest&& as_sent);
  int takeover_seconds() const;
  void build_store();
  void watch_passive_targets();
  // ProactiveOutputs::targets: one stretch of the fleet's checkable targets.
  std::optional<std::size_t> checkable_targets(std::size_t from, std::vector<TargetSpec>& out) const;

  // The last member, so destroyed first: coroutines that outlive a turn hold
  // it weakly and touch nothing of this once it is gone.
  std::shared_ptr<int> alive = std::make_shared<int>(0);
};

std::optional<std::size_t> Components::Impl::checkable_targets(std::size_t from, std::vector<TargetSpec>& out) const {
  // 4,096 slots a stretch: at 100,000 targets with 21,000 checkable, the
  // whole snapshot held the loop 3-6 ms (bench/bench_fleet_discovery.cpp).
  // A target removed between stretches may still be in the snapshot: its
  // evidence is dropped (Fleet::submit), as for one removed during the sweep.
  constexpr std::size_t stretch = 4096;
  const auto& machine = fleet.machine();
  const auto next = machine.for_each_from(from, stretch, [&](const TargetRecord& r) {
    if (r.spec.checkable()) out.push_back(r.spec.full());
  });
  if (next >= machine.slot_end()) return std::nullopt;
  return next;
}

void Components::Impl::watch_passive_targets() {
  // The passive layer watches every target's heartbeat; the set changes with
  // discovery, so the changes are handed over once per loop turn after a
  // batch of them. Only the changes: a copy of every id per change was a
  // 3 MiB vector and a walk of every slot at 100,000 targets (issue 15).
  fleet.on_transition([this](const Transition& t) {
    if (!(t.added || t.removed) || !passive) return;
    if (t.added) {
      passive_removed.erase(t.target);
      passive_added.insert(t.target);
    } else {
      passive_added.erase(t.target);
      passive_removed.insert(t.target);
    }
    if (passive_targets_dirty) return;
    passive_targets_dirty = true;
    net::post(ioc, [this] {
      passive_targets_dirty = false;
      const std::vector<std::string> added(passive_added.begin(), passive_added.end());
      const std::vector<std::string> removed(passive_removed.begin(), passive_removed.end());
      passive_added.clear();
      passive_removed.clear();
      if (passive) passive->change_targets(added, removed, std::chrono::steady_clock::now());
    });
  });
}

std::optional<cluster::Locality> Components::Impl::locality_of(const TargetSpec& spec) const {
  if (spec.on_engine && engine_key.empty()) return std::nullopt;  // no engine identity yet: nobody's
  return cluster::Locality{spec.on_engine ? std::string_view(engine_key) : std::string_view(), spec.instance};
}

std::string_view Components::Impl::owner_of(const TargetSpec& spec) const {
  const auto where = locality_of(spec);
  return where ? cluster::owner_of(spec.id, *where, owners) : std::string_view();
}

Fleet::Owner Components::Impl::owns(const TargetSpec& spec) const {
  const auto where = locality_of(spec);
  if (!where) return Fleet::Owner::nobody;
  const auto owner = cluster::owner_of(spec.id, *where, owners);
  if (owner == cfg.cluster.instance_id) return Fleet::Owner::here;
  // This instance's own share while it waits to become an owner: its peers
  // let it go already (or soon will), it does not judge it yet.
  if (!joining.empty() && cluster::owner_of(spec.id, *where, joining) == cfg.cluster.instance_id)
    return Fleet::Owner::nobody;
  return owner.empty() ? Fleet::Owner::nobody : Fleet::Owner::peer;
}

// Several instances: this one judges only the targets it owns. Set before
// any source names a target; until the lease is held and the members read,
// it owns none.
void Components::Impl::own_by_cluster() {
  fleet.set_ownership([this](const TargetSpec& spec) { return owns(spec); });
}

void Components::Impl::reown() {
  joining = cluster::with_joining_self(owners, membership && membership->may_act(),
                                       cluster::LiveMember{cfg.cluster.instance_id, engine_key});
  fleet.reown();
}

// The engine's identity is the locality of its containers: asked until the
// engine answers (it may be down at startup), then published with the lease.
void Components::Impl::learn_engine_identity() {
  net::co_spawn(
      ioc,
      [this, life = std::weak_ptr<int>(alive)]() -> net::awaitable<void> {
        for (;;) {
          auto r = co_await engine->identity();
          if (life.expired()) co_return;
          if (r.ok()) {
            engine_key = r.value.key();
            spdlog::info("cluster: engine identity {}: its containers are owned among the instances on it",
                         engine_key);
            membership->set_engine(engine_key);
            reown();
            co_return;
          }
          boost::system::error_code ec;
          identity_retry.expires_after(std::chrono::seconds(2));
          co_await identity_retry.async_wait(net::redirect_error(net::use_awaitable, ec));
          if (life.expired() || ec) co_return;
        }
      },
      clients::net::log_failure("engine identity"));
}

void Components::Impl::build() {
  if (cfg.cluster.enabled) {
    own_by_cluster();
    HttpClientOptions to_peers;
    to_peers.max_in_flight = 64;  // forwarded reports at once; more wait (within their timeout)
    to_peers.max_idle = 8;
    peers = std::make_unique<HttpConnectionPool>(ioc.get_executor(), to_peers);
    fleet_list = std::make_unique<store::FleetList>(ioc.get_executor(), cfg.postgres.dsn, fleet_list_timeout);
  }
  if (cfg.engine.enabled)
    engine = std::make_unique<EngineClient>(ioc.get_executor(), cfg.engine.socket, cfg.engine.api_version,
                                            cfg.proactive.timeout);
  remediator = std::make_unique<Remediator>(
      ioc.get_executor(), cfg.restart, engine.get(), &webhook, metrics,
      [this](const RemediationOrder& o, bool ok, std::string detail) {
        fleet.remediation_result(o.target, o.kind, ok, detail);
      });
  fleet.on_order([this](const RemediationOrder& o) { remediator->execute(o); });
  fleet.on_transition([this](const Transition& t) {
    if (t.removed && reactive) reactive->forget(t.target);
  });
  fleet.replace_source(TargetSources::static_source, static_specs(cfg));
  const bool proactive_needed = needs_proactive(cfg);
  // The fleet's sources hold the static targets from here on; a second copy
  // in `cfg` would cost 152 bytes per target for nothing (issue 15's memory).
  config::release_static_targets(cfg);

  if (proactive_needed) {
    ProactiveOutputs out;
    out.evidence = fleet.sink();
    out.discovered = [this](std::vector<TargetSpec> specs) {
      fleet.replace_source(TargetSources::engine_source, std::move(specs));
    };
    out.started = [this](const std::string& id, const std::string& reason) {
      fleet.begin_grace(id, Layer::proactive, reason);
    };
    out.engine_healthy = [this](bool healthy) { fleet.set_source_healthy("engine", healthy); };
    out.targets = [this](std::size_t from, std::vector<TargetSpec>& specs) { return checkable_targets(from, specs); };
    proactive = std::make_unique<ProactiveLayer>(ioc.get_executor(), cfg, engine.get(), http, std::move(out),
                                                 metrics, liveness);
  }
  // The reactive layer serves the admin sweep too, so it exists even with
  // the hook disabled (sweeps.reactive.enabled: false); it is started (its
  // liveness enabled) only for the hook.
  {
    ReactiveLayer::Options o;
    o.coalesce_window = cfg.reactive.coalesce_window;
    o.stale_after = cfg.liveness_stale_after;
    reactive = std::make_unique<ReactiveLayer>(ioc.get_executor(), o,
                                               check_now(ioc.get_executor(), fleet, engine.get(), http, cfg.proactive),
                                               fleet.sink(), metrics, liveness);
  }
  if (cfg.redis.enabled) {
    PassiveOptions po;
    po.stale_after = cfg.liveness_stale_after;
    po.initial_grace = cfg.redis.grace;
    // Several instances share the Redis: each subscribes to the channels of
    // the keys it owns, not a pattern that brings every instance every key's
    // notifications (issue 14; the figures in bench/BENCHMARKS.md).
    po.exact_channels = cfg.cluster.enabled;
    passive = std::make_unique<PassiveLayer>(
        ioc.get_executor(), cfg.redis, metrics, liveness, fleet.sink(),
        [this](bool healthy) { fleet.set_source_healthy("redis", healthy); }, po);
    fleet.set_heartbeat_lookup([this](std::string_view id) { return passive->last_heartbeat(id); });
    watch_passive_targets();
    passive->set_targets(fleet.ids(), std::chrono::steady_clock::now());
  }
  if (!cfg.postgres.enabled)
    spdlog::warn("no postgres section: state and events are kept in memory only and lost at exit");
  else
    build_store();
}

void Components::Impl::build_store() {
  store = std::make_unique<store::Store>(ioc.get_executor(), cfg.postgres.dsn, cfg.postgres.spool_dir, metrics,
                                         liveness, cfg.liveness_stale_after);
  // Every state change is one event row (SPEC section 6); a target appearing
  // is not a state change, its leaving is (the target row is deleted).
  fleet.on_transition([this](const Transition& t) {
    auto e = store::event_of(t, fleet.machine().find(t.target));
    if (!e) return;
    if (membership) {  // the fencing token: PostgreSQL applies the event only while this lease holds
      e->instance = membership->instance_id();
      e->epoch = membership->epoch();
    }
    store->record(std::move(*e));
  });
  // A restarted daemon keeps counts, quarantines and the crash-loop backoff.
  // Until the rows are read (normally within milliseconds of connecting)
  // remediation goes on without them; a late restore still quarantines.
  store->on_restore([this](std::vector<store::TargetRow> rows) { fleet.restore(store::restored_targets(std::move(rows))); });
  if (cfg.cluster.enabled) {
    // Each target's rows are read when this instance takes it over, not all
    // at startup: most belong to peers, and a startup read is stale by the
    // time a target moves here.
    store->restore_only_asked();
    fleet.on_taken_over([this](std::vector<std::string> ids) { store->restore_rows(std::move(ids)); });
  }
  if (cfg.targets.postgres_query) {
    target_query = std::make_unique<store::TargetQuery>(
        ioc.get_executor(), cfg.postgres.dsn, *cfg.targets.postgres_query, cfg.targets.targets_refresh,
        [this](std::vector<store::TargetQuery::Row> rows) {
          std::vector<TargetSpec> specs;
          specs.reserve(rows.size());
          for (auto& r : rows) {
            TargetSpec spec{std::move(r.id), std::move(r.container), {}, {}, false};
            spec.instance = std::move(r.instance);
            specs.push_back(std::move(spec));
          }
          fleet.replace_source(TargetSources::postgres_source, std::move(specs));
        });
  }
}

Components::Components(net::io_context& ioc, const config::Config& cfg, metrics::Metrics& metrics,
                       metrics::LivenessRegistry& liveness)
    : impl_(std::make_unique<Impl>(ioc, cfg, metrics, liveness)) {
  impl_->build();
}

Components::~Components() { stop(); }

void Components::start(const std::string& listening) {
  auto& d = *impl_;
  if (d.cfg.cluster.enabled && !d.membership) {
    const auto& c = d.cfg.cluster;
    cluster::MembershipOptions o;
    o.dsn = d.cfg.postgres.dsn;
    o.instance_id = c.instance_id;
    o.advertise = !c.advertise.empty() ? c.advertise : listening.empty() ? std::string() : "http://" + listening;
    o.lease = c.lease;
    o.renew_every = c.renew_every;
    o.renew_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(c.renew_deadline());
    o.stale_after = d.cfg.liveness_stale_after;
    d.membership = std::make_unique<cluster::Membership>(d.ioc.get_executor(), std::move(o), d.metrics.cluster(),
                                                         d.liveness);
    // Remediation waits for the lease and pauses whenever it is lost, through
    // the fail-safe's evidence-source rule: held orders are released one
    // settle delay after the lease is back (decide::release_suppressed).
    d.fleet.set_source_healthy(cluster_lease_source, false);
    d.membership->on_change([&d](bool may_act) {
      d.fleet.set_source_healthy(cluster_lease_source, may_act);
      d.reown();  // a lease won or lost: whether this instance's share waits for it (the unowned gauge)
    });
    d.membership->on_owners_change([&d] {
      d.owners = d.membership->owners();
      d.reown();
    });
    if (d.engine) d.learn_engine_identity();
    d.membership->count_with([&d] {
      const auto counts = d.fleet.machine().counts_by_state();
      return std::pair{static_cast<int>(d.fleet.size()),
                       static_cast<int>(counts[static_cast<std::size_t>(State::offline)])};
    });
    // The fleet-wide fail-safe: the peers' published counts after every read
    // of the member list. While the lease is lost no list is read and the
    // last counts stay: losing the lease pauses remediation by itself, and
    // the renewal right after a new lease is acquired reads them afresh,
    // well before a held restart is released (one settle delay later).
    d.membership->on_members([&d](const std::vector<cluster::Member>& members) {
      const auto peers = cluster::live_peer_totals(members, d.membership->instance_id());
      d.fleet.set_peer_counts(PeerCounts{peers.targets, peers.offline, peers.instances});
    });
    warn_if_settle_outruns_peers(d.cfg);
    d.membership->start();
  }
  if (impl_->store) impl_->store->start();
  if (impl_->target_query) impl_->target_query->start();
  if (impl_->proactive) impl_->proactive->start();
  if (impl_->reactive && impl_->cfg.reactive.enabled) impl_->reactive->start();
  if (impl_->passive) impl_->passive->start();
}

void Components::stop() {
  impl_->identity_retry.cancel();
  if (impl_->target_query) impl_->target_query->stop();
  if (impl_->proactive) impl_->proactive->stop();
  if (impl_->reactive) impl_->reactive->stop();
  if (impl_->passive) impl_->passive->stop();
  impl_->fleet.stop();
}

void Components::reconfigure(const config::Config& cfg) {
  auto& d = *impl_;
  d.cfg.targets = cfg.targets;
  config::release_static_targets(d.cfg);  // held by the fleet's sources (below), not twice
  d.cfg.proactive = cfg.proactive;
  d.cfg.reactive = cfg.reactive;
  d.cfg.restart = cfg.restart;
  d.cfg.fail_safe = cfg.fail_safe;
  d.fleet.configure(cfg);
  d.remediator->configure(cfg.restart);
  if (d.proactive) d.proactive->configure(cfg);
  if (d.passive && cfg.redis.enabled) d.passive->reconfigure(cfg.redis);
  d.reactive->set_coalesce_window(cfg.reactive.coalesce_window);
  d.fleet.replace_source(TargetSources::static_source, static_specs(cfg));
  if (d.target_query) d.target_query->set_refresh(cfg.targets.targets_refresh);
}

// 1,024 targets a stretch: about a millisecond of JSON on this machine, so
// a 100,000-target answer costs the loop a hundred short turns rather than
// one of 100 ms or more. A page still picks its ids in one pass and a partial
// sort (a few milliseconds at 100,000).
net::awaitable<TargetPage> Components::local_targets(TargetQuery q) const {
  constexpr std::size_t stretch = 1024;
  const auto& fleet = impl_->fleet;
  TargetPage page{"[", std::nullopt};
  if (q.limit == 0 && !q.after) {
    page.json.reserve(fleet.size() * 256);  // no copies of a growing 25 MB string
    std::optional<std::size_t> at = 0;
    while ((at = fleet.append_targets(page.json, q.state, *at, stretch)))
      co_await net::post(impl_->ioc, net::use_awaitable);
  } else {
    auto ids = fleet.page_ids(q.state, q.after, q.limit);
    page.next = std::move(ids.next);
    const std::span<const std::string> all(ids.ids);
    for (std::size_t i = 0; i < all.size(); i += stretch) {
      if (i > 0) co_await net::post(impl_->ioc, net::use_awaitable);
      fleet.append_targets(page.json, all.subspan(i, std::min(stretch, all.size() - i)));
    }
  }
  page.json.push_back(']');
  co_return page;
}

std::optional<std::string> Components::target_json(std::string_view id) const {
  return impl_->fleet.target_json(id);
}

namespace {

CheckAnswer answer_of(ReactiveLayer::Admission a) {
  switch (a) {
    case ReactiveLayer::Admission::started:
    case ReactiveLayer::Admission::queued: return CheckAnswer::accepted;
    case ReactiveLayer::Admission::coalesced: return CheckAnswer::coalesced;
    case ReactiveLayer::Admission::refused: return CheckAnswer::queue_full;
  }
  return CheckAnswer::queue_full;
}

}  // namespace

OwnerRef Components::Impl::owner_ref(std::string_view owner) const {
  OwnerRef ref{std::string(owner), {}};
  if (membership)
    for (const auto& m : membership->members())
      if (m.instance_id == owner) ref.advertise = m.advertise;
  return ref;
}

int Components::Impl::takeover_seconds() const {
  // A dead owner's targets are owned again within lease + renew_every.
  const auto ms = (cfg.cluster.lease + cfg.cluster.renew_every) / std::chrono::milliseconds(1);
  return static_cast<int>((ms + 999) / 1000);
}

// The report as it came (body and Authorization), marked forwarded so that
// the owner never sends it on again.
net::awaitable<PeerReply> Components::Impl::forward(const OwnerRef& owner, HookRequest&& as_sent) {
  JsonPost post;
  post.url = owner.advertise;
  while (!post.url.empty() && post.url.back() == '/') post.url.pop_back();
  post.url += "/hooks/connection-error";
  post.body = std::move(as_sent.body());
  if (!as_sent.authorization().empty()) post.headers.set(boost::beast::http::field::authorization, as_sent.authorization());
  post.headers.set(cluster::forwarded_by_header, cfg.cluster.instance_id);
  post.timeout = forward_timeout;
  return peer_reply(peers->post_json(std::move(post)));
}

HookAnswer Components::hook(HookReport&& report, HookRequest&& as_sent) {
  auto& d = *impl_;
  if (!d.cfg.reactive.enabled) return CheckAnswer::layer_off;
  cluster::HookSituation where;
  where.owned_here = d.fleet.contains(report.target);
  where.known = where.owned_here;
  where.forwarded = !as_sent.forwarded_by().empty();
  std::string owner;
  if (!where.owned_here && d.cfg.cluster.enabled) {
    if (const auto spec = d.fleet.known_spec(report.target)) {
      where.known = true;
      owner = d.owner_of(*spec);
      // Owned here by the member list but not taken up (yet): nobody judges it now.
      if (owner == d.cfg.cluster.instance_id) owner.clear();
      where.owner = owner;
    }
  }
  switch (cluster::route_hook(where)) {
    case cluster::HookRoute::judge_here: break;
    case cluster::HookRoute::unknown: return CheckAnswer::unknown_target;
    case cluster::HookRoute::no_owner: return UnownedHook{d.takeover_seconds()};
    case cluster::HookRoute::name_owner: return MisdirectedHook{d.owner_ref(owner)};
    case cluster::HookRoute::forward: {
      auto ref = d.owner_ref(owner);
      auto reply = d.forward(ref, std::move(as_sent));
      return ForwardingHook{std::move(ref), std::move(reply), d.takeover_seconds()};
    }
  }
  return answer_of(d.reactive->report(
      {std::move(report.target), std::move(report.error), std::move(report.source), std::chrono::steady_clock::now()}));
}

bool Components::lists_fleet() const { return impl_->fleet_list != nullptr; }

net::awaitable<FleetPage> Components::fleet_targets(TargetQuery q) {
  store::FleetQuery fq;
  if (q.state) fq.state = std::string(to_string(*q.state));
  fq.after = std::move(q.after);
  fq.limit = q.limit;
  return fleet_page_of(impl_->fleet_list->read(std::move(fq)));
}

CheckAnswer Components::sweep(std::string_view id) {
  auto& d = *impl_;
  if (!d.fleet.contains(id)) return CheckAnswer::unknown_target;
  return answer_of(d.reactive->sweep(std::string(id)));
}

bool Components::reset(std::string_view id) { return impl_->fleet.reset(id); }

std::optional<std::string> Components::cluster_json() const {
  if (!impl_->membership) return std::nullopt;
  return cluster::cluster_json(*impl_->membership);
}

net::awaitable<void> Components::drain(std::chrono::milliseconds grace) {
  auto& d = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  net::steady_timer poll(d.ioc);
  while (d.remediator->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(net::use_awaitable);
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  // An unreachable PostgreSQL is not waited for: the events are in the spool.
  if (d.store) co_await d.store->drain(d.store->healthy() ? std::max(left, std::chrono::milliseconds(0))
                                                          : std::chrono::milliseconds(0));
  // Last: the lease given back, so peers take the targets over at once.
  if (d.membership) co_await d.membership->stop();
}

std::size_t Components::in_flight() const {
  // Shutdown waits (at most shutdown_grace) for remediations and for events
  // still on their way to PostgreSQL; what is left stays in the spool.
  return impl_->remediator->in_flight() + (impl_->store && impl_->store->healthy() ? impl_->store->spooled() : 0);
}

}  // namespace healthsweep::daemon
