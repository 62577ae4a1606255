#include "cluster/membership.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "clients/net/log_failure.hpp"
#include "clients/postgres/connection.hpp"
#include "cluster/lease_sql.hpp"
#include "cluster/next_read.hpp"

namespace healthsweep::cluster {

namespace net = boost::asio;
using clients::postgres::PgConnection;
using clients::postgres::PgResult;
using metrics::Subsystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

namespace {
std::int64_t to_int(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }
}  // namespace

PeerTotals live_peer_totals(const std::vector<Member>& members, std::string_view self) {
  PeerTotals out;
  for (const Member& m : members) {
    if (!m.live || m.instance_id == self) continue;
    out.targets += static_cast<std::size_t>(std::max(m.targets, 0));
    out.offline += static_cast<std::size_t>(std::max(m.offline, 0));
    ++out.instances;
  }
  return out;
}

struct Membership::Impl {
  Impl(net::any_io_executor e, MembershipOptions o, metrics::ClusterMetrics m, metrics::LivenessRegistry& l)
      : ex(e), options(std::move(o)), metrics(m), live(l), conn(e), timer(e), fence_timer(e) {}

  net::any_io_executor ex;
  MembershipOptions options;
  metrics::ClusterMetrics metrics;
  metrics::LivenessRegistry& live;
  PgConnection conn;
  net::steady_timer timer;
  net::steady_timer fence_timer;  // fires at fence_at
  std::function<void(bool)> changed;
  std::function<void()> owners_changed;
  std::function<void(const std::vector<Member>&)> members_read;
  std::vector<LiveMember> owners;  // as owners() returns them
  std::string engine;              // published with the lease
  bool acting = false;  // what `changed` was last told
  bool started = false, stopping = false, running = false;

  std::int64_t epoch = 0;        // of the lease held, 0: none
  steady::time_point fence_at{};  // may_act() until then
  // Just past the earliest live peer's expiry as last read (max: none): the
  // loop reads then if that comes before its next renewal (next_read.hpp).
  steady::time_point peer_expiry_read = steady::time_point::max();
  std::vector<Member> members;
  int targets = 0, offline = 0;
  std::function<std::pair<int, int>()> counts;
  std::string last_problem;      // logged once per kind of failure

  bool may_act(steady::time_point now = steady::now()) const { return epoch != 0 && now < fence_at; }

  // The statements' deadline: a renewal later than this is no use to the
  // deadline anyway, and the loop must turn (liveness, watchdog).
  milliseconds statement_timeout() const { return options.renew_every; }

  void problem(const std::string& what) {
    metrics.renew_failures.Increment();
    if (what != last_problem) spdlog::warn("cluster: {}", what);
    last_problem = what;
  }

  // The lease is gone (fenced by the deadline, or PostgreSQL says it expired).
  void lose(const std::string& why) {
    if (epoch == 0) return;
    spdlog::error("cluster: lease of epoch {} lost ({}): this instance stops acting until it holds a new one",
                  epoch, why);
    metrics.leases_lost.Increment();
    epoch = 0;
    notify();
    update_owners();  // this instance owns nothing any more
  }

  std::vector<LiveMember> compute_owners() const {
    std::vector<LiveMember> out;
    const auto r = options.renew_every.count();
    for (const Member& m : members) {
      const bool self = m.instance_id == options.instance_id;
      if (self ? (may_act() && m.held_ms >= 4 * r) : (m.live && m.held_ms >= 2 * r))
        out.push_back(LiveMember{m.instance_id, self ? engine : m.engine});
    }
    return out;  // members are read in id order
  }

  void update_owners() {
    auto next = compute_owners();
    if (next == owners) return;
    owners = std::move(next);
    spdlog::info("cluster: {} instance(s) own targets now", owners.size());
    if (owners_changed) owners_changed();
  }

  // A renewal (or acquisition) confirmed: acting until the new deadline, and
  // the fence armed for it. The timer's own callback holds no Impl (the
  // Membership may be gone when it is cancelled).
  void renewed(steady::time_point sent) {
    fence_at = sent + options.renew_deadline;
    fence_timer.expires_at(fence_at);
    fence_timer.async_wait([w = weak](const boost::system::error_code& ec) {
      auto s = w.lock();
      if (ec || !s || s->may_act()) return;
      s->lose("not renewed within the renew deadline");
    });
    notify();
  }

  void notify() {
    const bool now_acting = may_act();
    if (now_acting != acting) {
      acting = now_acting;
      if (changed) changed(acting);
    }
    gauges();
  }

  std::weak_ptr<Impl> weak;

  void gauges() {
    metrics.lease_held.Set(may_act() ? 1 : 0);
    metrics.epoch.Set(static_cast<double>(epoch));
    metrics.members.Set(static_cast<double>(std::count_if(members.begin(), members.end(),
                                                          [](const Member& m) { return m.live; })));
  }

  PgConnection::Params lease_params(bool with_epoch) {
    if (counts) std::tie(targets, offline) = counts();
    PgConnection::Params p{options.instance_id};
    p.emplace_back(with_epoch ? std::to_string(epoch) : options.advertise);
    p.emplace_back(std::to_string(options.lease.count()));
    p.emplace_back(std::to_string(targets));
    p.emplace_back(std::to_string(offline));
    p.emplace_back(engine);
    return p;
  }

  net::awaitable<bool> acquire() {
    const auto sent = steady::now();
    auto r = co_await conn.exec(std::string(sql::acquire), lease_params(false), statement_timeout());
    if (!r.ok) {
      problem("acquiring the lease failed: " + r.error);
      co_return false;
    }
    if (r.rows.empty()) {
      problem("instance id '" + options.instance_id +
              "' holds a live lease already (another process with this id, or this one restarted within its "
              "lease): waiting until it expires");
      co_return false;
    }
    epoch = to_int(r.rows[0][0]);
    last_problem.clear();
    spdlog::info("cluster: instance '{}' holds its lease, epoch {} (lease {} ms, renewed every {} ms)",
                 options.instance_id, epoch, options.lease.count(), options.renew_every.count());
    renewed(sent);
    co_return true;
  }

  net::awaitable<void> renew() {
    const auto sent = steady::now();
    auto r = co_await conn.exec(std::string(sql::renew_and_read), lease_params(true), statement_timeout());
    const auto answered = steady::now();
    if (!r.ok) {
      problem("renewing the lease failed: " + r.error);
      co_return;
    }
    const bool held = !r.rows.empty() && r.rows[0][0].has_value();
    if (!held && epoch != 0) lose("PostgreSQL says it expired");
    if (held) {
      renewed(sent);
      live.tick(Subsystem::cluster);
      last_problem.clear();
    }
    std::vector<Member> read;
    for (const auto& row : r.rows) {
      if (row.size() < 11 || !row[1]) continue;
      Member m;
      m.instance_id = *row[1];
      m.advertise = row[2].value_or("");
      m.epoch = to_int(row[3]);
      m.expires_in_ms = to_int(row[4]);
      m.renewed_ago_ms = to_int(row[5]);
      m.acquired_at_us = to_int(row[6]);
      m.targets = static_cast<int>(to_int(row[7]));
      m.offline = static_cast<int>(to_int(row[8]));
      m.engine = row[9].value_or("");
      m.held_ms = to_int(row[10]);
      m.live = m.expires_in_ms > 0;
      if (held && m.instance_id == options.instance_id) {  // the snapshot predates the renewal
        m.expires_in_ms = options.lease.count();
        m.renewed_ago_ms = 0;
        m.live = true;
        m.targets = targets;
        m.offline = offline;
        m.engine = engine;
      }
      read.push_back(std::move(m));
    }
    members = std::move(read);
    if (const auto wait = next_read_after(members, options.instance_id, options.renew_every);
        wait < options.renew_every)
      peer_expiry_read = answered + wait;
    update_owners();
    if (members_read) members_read(members);
  }

  // The next turn: one renew_every from now, or earlier to read the member
  // list just past a peer's expiry (a peer that stopped renewing).
  steady::time_point next_turn() const {
    const auto renewal = steady::now() + options.renew_every;
    if (peer_expiry_read >= renewal) return renewal;
    spdlog::debug("cluster: a peer's lease runs out before the next renewal: reading again in {} ms",
                  std::chrono::duration_cast<milliseconds>(peer_expiry_read - steady::now()).count());
    return peer_expiry_read;
  }

  net::awaitable<void> loop() {
    while (!stopping) {
      live.loop_tick(Subsystem::cluster);  // the deadline itself is fence_timer's
      peer_expiry_read = steady::time_point::max();  // set again only by a read in this turn
      if (!conn.connected()) {
        const auto e = co_await conn.connect(options.dsn, statement_timeout());
        if (!e.empty()) problem("PostgreSQL unreachable: " + e);
      }
      if (!stopping && conn.connected()) {
        if (epoch == 0) co_await acquire();
        if (!stopping && epoch != 0 && conn.connected()) co_await renew();
      }
      gauges();
      if (stopping) break;
      boost::system::error_code ec;
      timer.expires_at(next_turn());
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    running = false;
  }
};

Membership::Membership(net::any_io_executor ex, MembershipOptions options, metrics::ClusterMetrics metrics,
                       metrics::LivenessRegistry& live)
    : impl_(std::make_shared<Impl>(ex, std::move(options), metrics, live)) {
  impl_->weak = impl_;
  // A renewal every renew_every, each bounded by it: a turn takes at most
  // three of them (connect, acquire, renew) plus the wait.
  live.enable(Subsystem::cluster, impl_->options.stale_after);
  live.watch_loop(Subsystem::cluster, std::max(impl_->options.stale_after, impl_->options.renew_every * 5));
  impl_->gauges();
}

Membership::~Membership() {
  impl_->stopping = true;
  impl_->timer.cancel();
  impl_->fence_timer.cancel();
}

void Membership::start() {
  if (impl_->started) return;
  impl_->started = impl_->running = true;
  net::co_spawn(impl_->ex, [s = impl_]() -> net::awaitable<void> { co_await s->loop(); },
                clients::net::log_failure("cluster membership"));
}

net::awaitable<void> Membership::stop() {
  auto s = impl_;
  s->stopping = true;
  s->timer.cancel();
  // The loop may be inside a statement on the same connection: let it end
  // (each is bounded by renew_every) before the release uses it.
  net::steady_timer wait(s->ex);
  for (int i = 0; s->running && i < 300; ++i) {
    boost::system::error_code ec;
    wait.expires_after(std::chrono::milliseconds(10));
    co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (!s->running && s->epoch != 0 && s->conn.connected()) {
    PgConnection::Params p{s->options.instance_id, std::to_string(s->epoch)};
    auto r = co_await s->conn.exec(std::string(sql::release), std::move(p), s->statement_timeout());
    if (r.ok) spdlog::info("cluster: lease of epoch {} given back", s->epoch);
    else spdlog::warn("cluster: giving the lease back failed ({}); peers wait for it to expire", r.error);
  }
  s->fence_timer.cancel();
  s->epoch = 0;
  s->gauges();  // no notify: remediation has stopped with the daemon
}

bool Membership::may_act() const { return impl_->may_act(); }
std::int64_t Membership::epoch() const { return impl_->may_act() ? impl_->epoch : 0; }
const std::string& Membership::instance_id() const { return impl_->options.instance_id; }
std::vector<Member> Membership::members() const { return impl_->members; }

std::vector<std::string> Membership::live_ids() const {
  std::vector<std::string> ids;
  for (const auto& m : impl_->members)
    if (m.live && m.instance_id != impl_->options.instance_id) ids.push_back(m.instance_id);
  if (impl_->may_act()) ids.push_back(impl_->options.instance_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Membership::on_change(std::function<void(bool)> handler) { impl_->changed = std::move(handler); }

std::vector<LiveMember> Membership::owners() const { return impl_->owners; }
void Membership::on_owners_change(std::function<void()> handler) { impl_->owners_changed = std::move(handler); }
void Membership::set_engine(std::string engine_id) { impl_->engine = std::move(engine_id); }

void Membership::on_members(std::function<void(const std::vector<Member>&)> handler) {
  impl_->members_read = std::move(handler);
}

void Membership::count_with(std::function<std::pair<int, int>()> counts) { impl_->counts = std::move(counts); }
const MembershipOptions& Membership::options() const { return impl_->options; }

}  // namespace healthsweep::cluster
