#include "store/store.hpp"
#include "clients/net/log_failure.hpp"

#include "clients/postgres/connection.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "store/event_batch.hpp"
#include "store/schema.hpp"
#include "store/spool.hpp"
#include "store/spool_keeper.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>

namespace healthsweep::store {

using namespace healthsweep::clients::postgres;
namespace net = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Subsystem = metrics::Subsystem;

namespace {

constexpr milliseconds connect_timeout = 5s;
constexpr milliseconds query_timeout = 10s;
constexpr milliseconds backoff_first = 100ms;
constexpr milliseconds backoff_max = 5s;
// The longest the writer loop may go between two turns (loop ticks): a
// backoff, a connect and the statements of one migration step (each bounded
// by query_timeout, the loop ticks between steps), or a ping sleep and one
// query. Longer is a stuck loop, and the systemd watchdog stops.
constexpr milliseconds loop_turn_budget = backoff_max + connect_timeout + 4 * query_timeout;
// Written events between spool rewrites while events still wait. A rewrite
// serializes every waiting event and fsyncs on the loop (bench_store_queue:
// 27-30 ms for 23,000 waiting events on an idle machine, more under load),
// and at a start with 100,000 targets, rewrites every 256 written events
// ran again and again while up to 46,000 first judgements drained.
// A queue that drains is emptied for free (a truncate); the written lines a
// crash would leave before then replay as no-ops (idempotent by event_id),
// at most about this many, 20 MB of file.
constexpr std::size_t compact_every = 65536;
constexpr int attempts_before_reject = 5;   // a statement PostgreSQL refuses this often
// Events per statement: 1,000 are ~300 KB of parameters and tens of ms of
// PostgreSQL's time, far inside query_timeout.
constexpr std::size_t max_batch = 1000;

std::string random_boot_id() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string object_or_raw(const std::string& text) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (!ec && v.is_object()) return text;
  return boost::json::serialize(boost::json::object{{"raw", text}});
}

}  // namespace

struct Store::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::any_io_executor e, std::string d, std::string spool_dir, metrics::Metrics& mm,
       metrics::LivenessRegistry& l, milliseconds stale, std::size_t cap)
      : ex(e), dsn(std::move(d)), m(mm), live(l),
        ping_interval(std::clamp<milliseconds>(stale / 3, 100ms, 10s)), conn(e), wake(e),
        retry(e), boot_id(random_boot_id()),
        keeper(std::make_shared<SpoolKeeper>(e, std::move(spool_dir), queue, mm, cap)), spool(*keeper) {}

  net::any_io_executor ex;
  std::string dsn;
  metrics::Metrics& m;
  metrics::LivenessRegistry& live;
  milliseconds ping_interval;
  PgConnection conn;
  net::steady_timer wake, retry;
  std::deque<QueuedEvent> queue;  // in order; front is the next to write
  std::string boot_id;
  std::uint64_t seq = 0;
  bool started = false, stopping = false, migrated = false, ok = false, reported_down = false;
  std::size_t written_since_compact = 0;
  int refusals = 0;  // of queue.front() on a live connection
  std::size_t single_left = 0;  // events to write one at a time (after a refused batch)
  // The healthsweep_targets rows are read once, after the previous run's
  // spooled events (the front `previous_left` of the queue) are written and
  // before any of this run's: those would overwrite what is to be restored.
  std::size_t previous_left = 0;
  bool restored = false;
  std::function<void(std::vector<TargetRow>)> on_restore;
  // Several instances: no full read at startup; the rows of the targets
  // this instance takes over, asked for as it takes them (restore_rows).
  std::vector<std::string> restore_ask;
  // The spool file: its own object, which outlives the store while its
  // periodic rewrite is pending.
  std::shared_ptr<SpoolKeeper> keeper;
  SpoolKeeper& spool;

  void gauge() { m.set_spool_events(static_cast<double>(queue.size())); }

  void compact() {
    spool.compact();
    written_since_compact = 0;
  }

  void went_down(const std::string& why) {
    ok = false;
    if (!reported_down)
      spdlog::warn("store: PostgreSQL unavailable ({}); events are spooled in {} and retried",
                   why, spool.path());
    reported_down = true;
  }

  // Parameterless statements in order; the first error, if any.
  net::awaitable<std::string> run_all(std::vector<std::string> statements) {
    for (const auto& sql : statements) {
      live.loop_tick(Subsystem::store);
      // A copy: the error message below names the statement.
      auto r = co_await conn.exec(sql, PgConnection::Params(), query_timeout);
      if (!r.ok) co_return sql + ": " + r.error;
    }
    co_return std::string{};
  }

  // Each migration in its own transaction under the advisory lock; a version
  // already listed in healthsweep_schema_migrations is skipped.
  net::awaitable<std::string> migrate() {
    const std::string lock(migration_lock_sql);
    std::vector<std::string> setup{"BEGIN", lock, std::string(create_migrations_table_sql), "COMMIT"};
    if (auto e = co_await run_all(std::move(setup)); !e.empty()) co_return co_await abort_with(e);
    for (const auto& mig : migrations()) {
      live.loop_tick(Subsystem::store);
      const auto v = std::to_string(mig.version);
      std::vector<std::string> begin{"BEGIN", lock};
      if (auto e = co_await run_all(std::move(begin)); !e.empty()) co_return co_await abort_with(e);
      PgConnection::Params version;
      version.emplace_back(v);
      auto seen = co_await conn.exec(
          "SELECT 1 FROM healthsweep_schema_migrations WHERE version = $1::int", version, query_timeout);
      if (!seen.ok) co_return co_await abort_with("migration " + v + ": " + seen.error);
      if (seen.rows.empty()) {
        auto r = co_await conn.exec_script(std::string(mig.sql), query_timeout);
        if (r.ok)
          r = co_await conn.exec("INSERT INTO healthsweep_schema_migrations (version, applied_at) "
                                 "VALUES ($1::int, now())", version, query_timeout);
        if (!r.ok) co_return co_await abort_with("migration " + v + ": " + r.error);
        spdlog::info("store: applying schema migration {}", v);
      }
      std::vector<std::string> commit{"COMMIT"};
      if (auto e = co_await run_all(std::move(commit)); !e.empty()) co_return co_await abort_with(e);
    }
    co_return std::string{};
  }
  // Ends a failed transaction; the caller reconnects and retries anyway.
  net::awaitable<std::string> abort_with(std::string e) {
    if (conn.connected()) co_await conn.exec("ROLLBACK", PgConnection::Params(), query_timeout);
    co_return e;
  }

  // Writes queue.front(). False: the connection is gone (or the event was
  // refused and stays queued for another try).
  net::awaitable<bool> write_front() {
    // The batch statement with one event: one statement to keep in step with the schema.
    auto r = co_await conn.exec(std::string(write_events_sql), batch_params(queue, 1), query_timeout);
    if (stopping && !r.ok) co_return false;
    if (!r.ok && !r.connection_lost && ++refusals < attempts_before_reject) {
      spdlog::error("store: PostgreSQL refused event {} (attempt {}): {}", queue.front().event_id(), refusals,
                    r.error);
      co_return false;
    }
    if (!r.ok && !r.connection_lost) {
      set_aside(queue.front().event(), r.error);  // would block every later event forever
    } else if (!r.ok) {
      went_down(r.error);
      co_return false;
    }
    refusals = 0;
    wrote(1);
    co_return true;
  }

  // The front n events are in PostgreSQL (or set aside).
  void wrote(std::size_t n) {
    queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
    previous_left -= std::min(previous_left, n);
    gauge();
    live.tick(Subsystem::store);
    // A rewrite costs the whole queue: only after at least as many events
    // were written (amortized O(1) per event), and after compact_every.
    written_since_compact += n;
    if (queue.empty() || (written_since_compact >= compact_every && written_since_compact >= queue.size()))
      compact();
  }

  // Every waiting event up to max_batch in one statement (store/event_batch);
  // one alone, or after a refused batch one at a time until past it, through
  // write_front. The previous run's events go first and alone: the restore
  // reads the target rows between them and this run's.
  net::awaitable<bool> write_next() {
    std::size_t n = batch_size(queue, previous_left > 0 ? std::min(max_batch, previous_left) : max_batch);
    if (n <= 1 || single_left > 0) {
      const auto before = queue.size();
      const bool ok = co_await write_front();
      if (queue.size() < before && single_left > 0) --single_left;
      co_return ok;
    }
    auto r = co_await conn.exec(std::string(write_events_sql), batch_params(queue, n), query_timeout);
    if (stopping && !r.ok) co_return false;
    if (!r.ok && r.connection_lost) {
      went_down(r.error);
      co_return false;
    }
    if (!r.ok) {
      spdlog::warn("store: PostgreSQL refused a batch of {} events ({}); writing them one at a time", n,
                   r.error);
      single_left = n;
      co_return true;
    }
    refusals = 0;
    wrote(n);
    co_return true;
  }

  // Reads what the previous run left (all rows, once) or the rows of the
  // targets in `only` (a takeover), and hands them to on_restore.
  // False: the connection is gone (try again after reconnecting).
  net::awaitable<bool> read_targets(const std::vector<std::string>* only = nullptr) {
    std::string sql(read_targets_sql);
    PgConnection::Params params;
    if (only) {
      boost::json::array ids;
      for (const auto& id : *only) ids.emplace_back(id);
      params.push_back(boost::json::serialize(ids));  // JSON: any id is escaped right
      sql += " WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))";
    }
    auto r = co_await conn.exec(sql, std::move(params), query_timeout);
    if (stopping) co_return true;
    if (!r.ok && r.connection_lost) {
      went_down(r.error);
      co_return false;
    }
    if (!only) restored = true;
    std::vector<TargetRow> rows;
    if (!r.ok) {
      spdlog::error("store: could not read healthsweep_targets ({}): restart history not restored", r.error);
    } else {
      for (const auto& row : r.rows) {
        if (row.size() != 4 || !row[0] || !row[1] || !row[2]) continue;
        TargetRow t{*row[0], std::atoi(row[1]->c_str()), *row[2] == "t", {}};
        std::string_view list = row[3] ? std::string_view(*row[3]) : std::string_view();
        while (!list.empty()) {
          const auto comma = list.find(',');
          const auto us = std::strtoll(std::string(list.substr(0, comma)).c_str(), nullptr, 10);
          t.recent_restarts.push_back(from_micros(us));
          list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        rows.push_back(std::move(t));
      }
      if (only)
        spdlog::info("store: rows of {} targets taken over read back ({} with a history)", only->size(), rows.size());
      else
        spdlog::info("store: {} target rows of the previous run read back", rows.size());
    }
    if (on_restore) on_restore(std::move(rows));
    co_return true;
  }

  // Keeps an event PostgreSQL keeps refusing, for a person to look at.
  void set_aside(const Event& e, const std::string& why) {
    try {
      SpoolFile rejected(spool.path().substr(0, spool.path().rfind('/')) + "/rejected");
      spdlog::error("store: event {} refused {} times ({}); moved to {}", e.event_id, refusals, why,
                    rejected.path());
      rejected.append(e);
    } catch (const std::exception& x) {
      spdlog::error("store: {}", x.what());
    }
  }

  net::awaitable<void> sleep(net::steady_timer& t, milliseconds d) {
    boost::system::error_code ec;
    t.expires_after(d);
    co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
  }

  static net::awaitable<void> run(std::shared_ptr<Impl> s) {
    try {
      co_await s->loop();
    } catch (const std::exception& x) {
      s->ok = false;
      spdlog::error("store: writer stopped by an error: {}", x.what());
    }
  }

  net::awaitable<void> loop() {
    milliseconds backoff = backoff_first;
    while (!stopping) {
      live.loop_tick(Subsystem::store);  // PostgreSQL answering or not
      if (!conn.connected()) {
        ok = false;
        auto e = co_await conn.connect(dsn, connect_timeout);
        if (e.empty() && !migrated) e = co_await migrate();
        if (stopping) break;
        if (!e.empty()) {
          conn.close();
          went_down(e);
          co_await sleep(retry, backoff);
          backoff = std::min(backoff * 2, backoff_max);
          continue;
        }
        migrated = ok = true;
        backoff = backoff_first;
        if (reported_down) spdlog::info("store: PostgreSQL reachable again; {} events to write", queue.size());
        reported_down = false;
        live.tick(Subsystem::store);
      }
      if (!restored && previous_left == 0) {
        if (!co_await read_targets()) continue;
        if (stopping) break;
      }
      if (!restore_ask.empty() && previous_left == 0) {
        auto ask = std::move(restore_ask);
        restore_ask.clear();
        if (!co_await read_targets(&ask)) {  // asked again after reconnecting
          restore_ask.insert(restore_ask.begin(), ask.begin(), ask.end());
          continue;
        }
        if (stopping) break;
      }
      if (queue.empty()) {
        co_await sleep(wake, ping_interval);  // record() cuts this short
        if (stopping || !queue.empty() || !restore_ask.empty()) continue;
        auto r = co_await conn.exec("SELECT 1", PgConnection::Params{}, query_timeout);
        if (r.ok) live.tick(Subsystem::store);
        else went_down(r.error);
        continue;
      }
      if (co_await write_next()) {
        ok = true;
        backoff = backoff_first;
      } else if (!stopping && conn.connected()) {
        co_await sleep(retry, backoff);  // refused: try again later
        backoff = std::min(backoff * 2, backoff_max);
      }
    }
  }
};

Store::Store(net::any_io_executor ex, std::string dsn, std::string spool_dir, metrics::Metrics& m,
             metrics::LivenessRegistry& live, milliseconds stale_after, std::size_t memory_cap)
    : impl_(std::make_shared<Impl>(ex, std::move(dsn), std::move(spool_dir), m, live, stale_after,
                                   memory_cap)) {
  for (const auto& e : impl_->spool.load()) impl_->queue.emplace_back(e);
  impl_->previous_left = impl_->queue.size();
  if (!impl_->queue.empty())
    spdlog::info("store: {} spooled events from a previous run in {}", impl_->queue.size(),
                 impl_->spool.path());
  impl_->gauge();
  live.enable(Subsystem::store, stale_after);
  live.watch_loop(Subsystem::store, std::max(stale_after, loop_turn_budget));
}

Store::~Store() { stop(); }

void Store::start() {
  if (impl_->started || impl_->stopping) return;  // a stopped Store stays stopped
  impl_->started = true;
  net::co_spawn(impl_->ex, Impl::run(impl_), clients::net::log_failure("store writer"));
}

void Store::on_restore(std::function<void(std::vector<TargetRow>)> handler) {
  impl_->on_restore = std::move(handler);
}

void Store::record(Event e) {
  auto& s = *impl_;
  if (e.event_id.empty()) e.event_id = s.boot_id + "-" + std::to_string(++s.seq);
  e.detail_json = object_or_raw(e.detail_json);
  QueuedEvent packed(e);
  if (!s.spool.keep(packed)) return;
  s.queue.push_back(std::move(packed));
  s.gauge();
  s.wake.cancel();
}

void Store::restore_only_asked() { impl_->restored = true; }

void Store::restore_rows(std::vector<std::string> ids) {
  auto& s = *impl_;
  s.restore_ask.insert(s.restore_ask.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
  s.wake.cancel();
}

std::size_t Store::spooled() const { return impl_->queue.size(); }

std::uint64_t Store::spool_syncs() const { return impl_->spool.syncs(); }

bool Store::healthy() const { return impl_->ok && impl_->conn.connected(); }

net::awaitable<void> Store::drain(milliseconds grace) {
  auto s = impl_;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  s->wake.cancel();
  net::steady_timer poll(s->ex);
  while (!s->queue.empty() && !s->stopping) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= 0s) break;
    co_await s->sleep(poll, std::min<milliseconds>(
                                10ms, std::chrono::duration_cast<milliseconds>(left) + 1ms));
  }
  if (!s->queue.empty())
    spdlog::warn("store: {} events not written within the grace period; they stay in {}",
                 s->queue.size(), s->spool.path());
  s->compact();
}

void Store::stop() {
  auto& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  s.on_restore = nullptr;  // its owner may be gone before the writer wakes up
  s.wake.cancel();
  s.retry.cancel();
  s.spool.stop();
  s.conn.close();
  s.ok = false;
  s.compact();
  if (s.spool.behind())
    spdlog::error("store: the spool {} could not be written at exit: {} unwritten events kept only in "
                  "memory are lost", s.spool.path(), s.queue.size());
}

}  // namespace healthsweep::store
