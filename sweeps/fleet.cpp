#include "sweeps/fleet.hpp"

#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "metrics/metrics.hpp"
#include "metrics/time_format.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_json.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::sweeps {

using namespace healthsweep::sweeps::decide;

namespace net = boost::asio;

struct Fleet::Impl {
  Impl(net::any_io_executor ex, const config::Config& cfg, metrics::Metrics& m)
      : machine(cfg), metrics(m), timer(ex), owner_name(cfg.cluster.enabled ? cfg.cluster.instance_id : ""),
        ownership_metrics(m.ownership()) {}

  StateMachine machine;
  TargetSources sources;
  metrics::Metrics& metrics;
  net::steady_timer timer;
  std::optional<steady::time_point> armed;  // when `timer` fires, if waiting
  std::vector<OrderHandler> order_handlers;
  std::vector<TransitionHandler> transition_handlers;
  HeartbeatLookup heartbeat;
  // Restored rows of targets no source has named yet: taken up when they appear.
  std::unordered_map<std::string, RestoredTarget> pending_restore;
  Owns owns;  // empty: every target is owned
  TakenOverHandler taken_over;
  // The target object's `owner`: this instance, which shows only the
  // targets it owns; empty (null) without a cluster section.
  std::string owner_name;
  // Known targets owned by nobody (the cluster_targets_unowned gauge):
  // rebuilt by reown(), kept by replace_source(); usually empty.
  std::unordered_set<std::string> unowned;
  metrics::OwnershipMetrics ownership_metrics;
  bool stopped = false;
  bool quiet = false;  // reown(): one summary line, not one per target moved


  Owner owner(const TargetSpec& spec) const { return owns ? owns(spec) : Owner::here; }
  // Keeps `unowned` in step with one target's owner.
  void classify(const std::string& id, Owner who) {
    if (who == Owner::nobody) unowned.insert(id);
    else unowned.erase(id);
  }
  // O(1): judged here is the machine, the rest of the known is a peer's or nobody's.
  void ownership_gauges() {
    if (!owns) return;
    const auto known = static_cast<double>(sources.size());
    const auto here = static_cast<double>(machine.size());
    const auto nobody = static_cast<double>(unowned.size());
    ownership_metrics.owned.Set(here);
    ownership_metrics.unowned.Set(nobody);
    ownership_metrics.peer_owned.Set(known - here - nobody);
  }

  boost::json::object object_of(const TargetRecord& r, steady::time_point now,
                                std::chrono::system_clock::time_point wall) const {
    auto o = to_json(r, now, wall, owner_name);
    if (heartbeat)
      if (auto hb = heartbeat(r.spec.id)) o["last_heartbeat"] = metrics::format_rfc3339_ms(*hb);
    return o;
  }

  void apply(Effects&& fx);
  void record(const Transition& t);
  void rearm();
  void update_gauges();
};

void Fleet::Impl::record(const Transition& t) {
  if (quiet && (t.added || t.handed_over)) return;
  if (t.added) {
    spdlog::info("target {} appeared ({})", t.target, to_string(t.to));
    return;
  }
  if (t.handed_over) {
    spdlog::info("target {} handed over to another instance (was {})", t.target, to_string(t.from));
    return;
  }
  if (t.removed) {
    spdlog::info("target {} removed (was {})", t.target, to_string(t.from));
    return;
  }
  metrics.transition(to_string(t.from), to_string(t.to));
  if (t.to == State::offline && t.from != State::offline && t.observed_at &&
      t.layer != Layer::admin) {
    // A detection: the time from the fact (TTL deadline, hook received,
    // engine event) to this verdict.
    metrics.detection(to_string(t.layer), std::chrono::duration<double>(t.at - *t.observed_at).count());
  }
  const auto level = t.to == State::offline || t.to == State::quarantined ? spdlog::level::warn
                                                                           : spdlog::level::info;
  spdlog::log(level, "target {}: {} -> {} ({}: {})", t.target, to_string(t.from), to_string(t.to),
              to_string(t.layer), t.reason);
}

void Fleet::Impl::apply(Effects&& fx) {
  for (const auto& t : fx.transitions) {
    record(t);
    for (const auto& h : transition_handlers) h(t);
  }
  if (fx.failsafe_changed) {
    metrics.set_failsafe(*fx.failsafe_changed);
    if (*fx.failsafe_changed)
      spdlog::error("FAIL-SAFE ACTIVE: remediation paused: {}", fx.failsafe_reason);
    else
      spdlog::warn("fail-safe cleared: remediation resumes: {}", fx.failsafe_reason);
  }
  for (const auto& o : fx.orders) {
    const auto action = to_string(o.kind);
    if (o.suppressed) {
      metrics.remediation(action, "suppressed");
      spdlog::warn("target {}: {} suppressed by the fail-safe ({})", o.target, action, o.reason);
      continue;
    }
    if (o.kind == RemediationKind::mark_offline) {
      metrics.remediation(action, "ok");
      continue;
    }
    for (const auto& h : order_handlers) h(o);
  }
  if (!fx.transitions.empty()) update_gauges();
  rearm();
}

void Fleet::Impl::update_gauges() {
  const auto counts = machine.counts_by_state();
  for (std::size_t i = 0; i < state_count; ++i)
    metrics.set_targets(to_string(all_states[i]), static_cast<double>(counts[i]));
}

void Fleet::Impl::rearm() {
  if (stopped) return;
  const auto next = machine.next_deadline();
  if (!next) return;  // an armed timer that fires early finds nothing due: harmless
  if (armed && *armed <= *next) return;
  armed = *next;
  timer.expires_at(*next);
  timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed earlier, or stopped
    armed.reset();
    apply(machine.tick(steady::now()));
  });
}

Fleet::Fleet(net::any_io_executor ex, const config::Config& config, metrics::Metrics& metrics)
    : impl_(std::make_unique<Impl>(ex, config, metrics)) {
  impl_->update_gauges();
  impl_->metrics.set_failsafe(false);
}

Fleet::~Fleet() { stop(); }

void Fleet::on_order(OrderHandler h) { impl_->order_handlers.push_back(std::move(h)); }
void Fleet::on_transition(TransitionHandler h) { impl_->transition_handlers.push_back(std::move(h)); }

void Fleet::set_heartbeat_lookup(HeartbeatLookup lookup) { impl_->heartbeat = std::move(lookup); }

void Fleet::configure(const config::Config& config) {
  impl_->machine.configure(config);
  impl_->rearm();
}


void Fleet::submit(Evidence ev) {
  if (!impl_->machine.find(ev.target)) return;  // a target that left meanwhile
  impl_->apply(impl_->machine.submit(ev, steady::now()));
}

EvidenceSink Fleet::sink() {
  return [this](Evidence ev) { submit(std::move(ev)); };
}

void Fleet::replace_source(std::string_view source, std::vector<TargetSpec> specs) {
  auto diff = impl_->sources.replace(source, std::move(specs));
  const auto now = steady::now();
  Effects fx;
  for (const auto& id : diff.removals) {
    fx.append(impl_->machine.remove(id, now));
    impl_->unowned.erase(id);
  }
  std::vector<std::string> taken;
  std::size_t moved_here = 0, moved_away = 0;
  for (const auto& spec : diff.upserts) {
    const Owner who = impl_->owner(spec);
    impl_->classify(spec.id, who);
    if (who != Owner::here) {
      // A changed spec (a pin, a container seen on another engine) may move it.
      if (impl_->machine.find(spec.id)) ++moved_away;
      fx.append(impl_->machine.hand_over(spec.id, now));
      continue;
    }
    // A target already named but judged elsewhere until now: a takeover.
    if (impl_->owns && !impl_->machine.find(spec.id) && !impl_->pending_restore.contains(spec.id)) {
      taken.push_back(spec.id);
      // Counted when it was known before (a moved pin): a target first
      // named while owned here was taken from no one (its row is read all the same).
      if (!diff.added.contains(spec.id)) ++moved_here;
    }
    fx.append(impl_->machine.upsert(spec, now));
    if (auto it = impl_->pending_restore.find(spec.id); it != impl_->pending_restore.end()) {
      fx.append(impl_->machine.restore(it->second, now));
      impl_->pending_restore.erase(it);
    }
  }
  impl_->apply(std::move(fx));
  impl_->ownership_metrics.taken_over.Increment(static_cast<double>(moved_here));
  impl_->ownership_metrics.handed_over.Increment(static_cast<double>(moved_away));
  impl_->ownership_gauges();
  if (!taken.empty() && impl_->taken_over) impl_->taken_over(std::move(taken));
}

void Fleet::set_ownership(Owns owns) {
  impl_->owns = std::move(owns);
  reown();
}

void Fleet::on_taken_over(TakenOverHandler h) { impl_->taken_over = std::move(h); }

void Fleet::reown() {
  const auto now = steady::now();
  Effects fx;
  std::vector<std::string> taken;
  std::size_t handed = 0;
  impl_->unowned.clear();
  impl_->sources.for_each([&](const TargetSpec& spec) {
    const auto& id = spec.id;
    const bool here = impl_->machine.find(id) != nullptr;
    const Owner who = impl_->owner(spec);
    const bool owned = who == Owner::here;
    impl_->classify(id, who);
    if (here && !owned) {
      fx.append(impl_->machine.hand_over(id, now));
      ++handed;
    } else if (!here && owned) {
      fx.append(impl_->machine.upsert(spec, now));
      // Rows read at startup are stale by now: the new owner reads them again.
      impl_->pending_restore.erase(id);
      taken.push_back(id);
    }
  });
  impl_->quiet = true;
  impl_->apply(std::move(fx));
  impl_->quiet = false;
  impl_->ownership_metrics.taken_over.Increment(static_cast<double>(taken.size()));
  impl_->ownership_metrics.handed_over.Increment(static_cast<double>(handed));
  impl_->ownership_gauges();
  if (handed > 0 || !taken.empty())
    spdlog::info("ownership changed: {} targets taken over, {} handed over; {} of {} judged here", taken.size(),
                 handed, impl_->machine.size(), impl_->sources.size());
  if (!taken.empty() && impl_->taken_over) impl_->taken_over(std::move(taken));
}

std::size_t Fleet::known() const { return impl_->sources.size(); }

std::optional<TargetSpec> Fleet::known_spec(std::string_view id) const {
  return impl_->sources.find(id);
}

void Fleet::restore(std::vector<RestoredTarget> rows) {
  const auto now = steady::now();
  Effects fx;
  for (auto& row : rows) {
    if (impl_->machine.find(row.id)) fx.append(impl_->machine.restore(row, now));
    else impl_->pending_restore.insert_or_assign(row.id, std::move(row));
  }
  impl_->apply(std::move(fx));
}

void Fleet::remediation_result(std::string_view id, RemediationKind kind, bool ok,
                               std::string_view detail) {
  impl_->apply(impl_->machine.remediation_result(id, kind, ok, detail, steady::now()));
}

void Fleet::begin_grace(std::string_view id, Layer layer, std::string_view reason) {
  impl_->apply(impl_->machine.begin_grace(id, layer, reason, steady::now()));
}

bool Fleet::reset(std::string_view id) {
  if (!impl_->machine.find(id)) return false;
  impl_->apply(impl_->machine.reset(id, steady::now()));
  return true;
}

void Fleet::set_source_healthy(std::string_view source, bool healthy) {
  impl_->apply(impl_->machine.set_source_healthy(source, healthy, steady::now()));
}

void Fleet::set_peer_counts(const PeerCounts& peers) {
  impl_->apply(impl_->machine.set_peer_counts(peers, steady::now()));
}

bool Fleet::contains(std::string_view id) const { return impl_->machine.find(id) != nullptr; }

std::optional<TargetSpec> Fleet::spec(std::string_view id) const {
  const auto* rec = impl_->machine.find(id);
  if (!rec) return std::nullopt;
  return rec->spec.full();
}

std::vector<std::string> Fleet::ids() const {
  std::vector<std::string> out;
  out.reserve(impl_->machine.size());
  impl_->machine.for_each([&](const TargetRecord& r) { out.push_back(r.spec.id); });
  return out;
}

std::size_t Fleet::size() const { return impl_->machine.size(); }
bool Fleet::failsafe_active() const { return impl_->machine.failsafe_active(); }

Fleet::PageIds Fleet::page_ids(std::optional<decide::State> state, std::optional<std::string_view> after,
                               std::size_t limit) const {
  std::vector<const TargetRecord*> picked;
  impl_->machine.for_each([&](const TargetRecord& r) {
    if (state && r.state != *state) return;
    if (after && r.spec.id <= *after) return;
    picked.push_back(&r);
  });
  PageIds page;
  if (limit > 0 || after) {
    const auto by_id = [](const TargetRecord* a, const TargetRecord* b) { return a->spec.id < b->spec.id; };
    if (limit > 0 && picked.size() > limit) {
      std::partial_sort(picked.begin(), picked.begin() + static_cast<std::ptrdiff_t>(limit), picked.end(), by_id);
      picked.resize(limit);
      page.next = picked.back()->spec.id;
    } else {
      std::sort(picked.begin(), picked.end(), by_id);
    }
  }
  page.ids.reserve(picked.size());
  for (const auto* r : picked) page.ids.push_back(r->spec.id);
  return page;
}

void Fleet::append_targets(std::string& out, std::span<const std::string> ids) const {
  const auto now = steady::now();
  const auto wall = std::chrono::system_clock::now();
  for (const auto& id : ids) {
    const auto* r = impl_->machine.find(id);
    if (!r) continue;
    if (!out.empty() && out.back() != '[') out.push_back(',');
    out.append(boost::json::serialize(impl_->object_of(*r, now, wall)));
  }
}

Fleet::Page Fleet::targets_page(std::optional<decide::State> state, std::optional<std::string_view> after,
                                std::size_t limit) const {
  auto ids = page_ids(state, after, limit);
  Page page{"[", std::move(ids.next)};
  append_targets(page.json, ids.ids);
  page.json.push_back(']');
  return page;
}

std::optional<std::size_t> Fleet::append_targets(std::string& out, std::optional<decide::State> state,
                                                 std::size_t from, std::size_t max_slots) const {
  const auto now = steady::now();
  const auto wall = std::chrono::system_clock::now();
  const auto next = impl_->machine.for_each_from(from, max_slots, [&](const TargetRecord& r) {
    if (state && r.state != *state) return;
    if (!out.empty() && out.back() != '[') out.push_back(',');
    out.append(boost::json::serialize(impl_->object_of(r, now, wall)));
  });
  if (next >= impl_->machine.slot_end()) return std::nullopt;
  return next;
}

std::optional<std::string> Fleet::target_json(std::string_view id) const {
  const auto* rec = impl_->machine.find(id);
  if (!rec) return std::nullopt;
  return boost::json::serialize(impl_->object_of(*rec, steady::now(), std::chrono::system_clock::now()));
}

const StateMachine& Fleet::machine() const { return impl_->machine; }

void Fleet::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

}  // namespace healthsweep::sweeps
