// The store under a mass death (issue 15: >= 20,000 events/s into
// PostgreSQL; the soak saw 10,000 startup transitions hold the loop 22-33 s),
// against baselines measured in the same run, on the same file system and
// the same PostgreSQL:
//  A. loop time of recording N events in one turn of the loop:
//     Store::record() x N (the line written on the loop, flushed by the
//     group commit's thread, store/spool_sync.hpp) against
//     SpoolFile::append() x N (the old path: write + fdatasync per event);
//     and how many fdatasyncs the group commit ran for them.
//  B. events/s landing in healthsweep_events, N events of N distinct targets:
//     the Store (first record() until spooled() == 0, batches of up to 1,000
//     in one statement, store/event_batch.hpp) against, with libpq on a
//     blocking connection, (i) write_event_sql once per event as the writer
//     did before (one round trip and one transaction each), (ii) a plain
//     INSERT per event, (iii) COPY FROM STDIN of the same rows (the practical
//     limit). The tables are emptied and a CHECKPOINT taken before each.
// Every figure is checked: the rows must all be there, or the run fails.
// Bounded: each per-event baseline (a disk flush per event) stops after
// 35 s and says so; its rate is then over the events it did.
// Run by bench/bench_store.sh (which starts a PostgreSQL of its own):
//   bench_store SERVER_DSN WORKDIR [N=10000]
// A database bench_store_<random> is created on the server and dropped at
// the end; the spool files go to WORKDIR.
#include "bench/latency_support.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "store/schema.hpp"
#include "store/spool.hpp"
#include "store/store.hpp"
#include "tests/support/pg_session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/statfs.h>

#include <cinttypes>
#include <random>

namespace {

using namespace hsbench;
using healthsweep::store::Event;
using healthsweep::store::to_micros;
using system_clock = std::chrono::system_clock;

// The baselines' client, and the checks': one blocking libpq connection.
using Pg = healthsweep::testing::PgSession;

// The first column of the first row ("" when there is none).
std::string scalar(Pg& pg, const std::string& sql) {
  const auto rows = pg.query(sql);
  return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
}

// CREATE DATABASE bench_store_<random>; dropped (WITH FORCE) when it goes.
class ThrowawayDatabase {
 public:
  explicit ThrowawayDatabase(std::string server) : server_(std::move(server)) {
    std::random_device rd;
    name_ = "bench_store_" + std::to_string(rd());
    Pg(server_).query("CREATE DATABASE " + name_);
  }
  ~ThrowawayDatabase() {
    try {
      Pg(server_).query("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& x) {
      std::fprintf(stderr, "bench_store: cannot drop %s: %s\n", name_.c_str(), x.what());
    }
  }
  std::string dsn() const { return server_ + " dbname=" + name_; }  // the last dbname wins

 private:
  std::string server_, name_;
};

// A mass death: every target of the fleet offline at once, one event each.
std::vector<Event> mass_death(int n) {
  std::vector<Event> out;
  const auto now = system_clock::now();
  for (int i = 0; i < n; ++i) {
    Event e;
    e.event_id = "bench-" + std::to_string(now.time_since_epoch().count()) + "-" + std::to_string(i);
    e.target = "ws-" + std::to_string(i);
    e.from_state = "online";
    e.to_state = "offline";
    e.layer = "proactive";
    e.reason = "container died (exit code 137)";
    e.at = now + std::chrono::microseconds(i);
    e.detail_json = R"({"exit_code":137,"engine":"podman"})";
    out.push_back(std::move(e));
  }
  return out;
}

// The 12 parameters of write_event_sql, exactly as the writer built them.
std::vector<std::string> event_params(const Event& e) {
  std::string recent = "{";
  for (const auto t : e.recent_restarts) {
    if (recent.size() > 1) recent.push_back(',');
    recent.append(std::to_string(to_micros(t)));
  }
  recent += "}";
  return {e.event_id, e.target, e.from_state, e.to_state, e.layer, e.reason, std::to_string(to_micros(e.at)),
          e.detail_json, std::to_string(e.restarts), e.quarantined ? "true" : "false",
          e.removed ? "true" : "false", recent};
}

// One event in one statement (one implicit transaction). The target row is
// touched and NOTIFY sent only when the event row is new, so a replayed
// event changes nothing. $1 event_id, $2 target, $3 from, $4 to, $5 layer,
// $6 reason, $7 at (microseconds since the epoch: exact), $8 detail, $9 restarts, $10 quarantined, $11 removed.
// The writer's statement before batching (store/schema.hpp until the
// batched writes replaced it), kept here as baseline (i).
constexpr std::string_view write_event_sql = R"(
WITH ev AS (
  INSERT INTO healthsweep_events (event_id, target, from_state, to_state, layer, reason, at, detail)
  VALUES ($1, $2, $3, $4, $5, $6, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', $8::jsonb)
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1
), upsert AS (
  INSERT INTO healthsweep_targets (id, state, since, reason, restarts, quarantined, updated_at, recent_restarts)
  SELECT $2, $4, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', $6, $9::int, $10::bool, now(),
    ARRAY(SELECT 'epoch'::timestamptz + us * interval '1 microsecond' FROM unnest($12::bigint[]) us)
  WHERE NOT $11::bool AND EXISTS (SELECT 1 FROM ev)
  ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,
    reason = EXCLUDED.reason, restarts = EXCLUDED.restarts,
    quarantined = EXCLUDED.quarantined, updated_at = EXCLUDED.updated_at,
    recent_restarts = EXCLUDED.recent_restarts
  RETURNING 1
), removed AS (
  DELETE FROM healthsweep_targets WHERE id = $2 AND $11::bool AND EXISTS (SELECT 1 FROM ev)
  RETURNING 1
)
SELECT pg_notify('healthsweep_events', $2) FROM ev)";

constexpr const char* plain_insert_sql =
    "INSERT INTO healthsweep_events (event_id, target, from_state, to_state, layer, reason, at, detail) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'epoch'::timestamptz + $7::bigint * interval '1 microsecond', $8::jsonb)";
constexpr const char* copy_sql =
    "COPY healthsweep_events (event_id, target, from_state, to_state, layer, reason, at, detail) FROM STDIN";

// One field of COPY's text format.
void append_copy_field(std::string& out, std::string_view v) {
  for (const char c : v) {
    if (c == '\\' || c == '\t' || c == '\n' || c == '\r') out.push_back('\\');
    out.push_back(c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : c);
  }
}

std::string copy_rows(const std::vector<Event>& events) {
  std::string out;
  for (const auto& e : events) {
    for (const auto* f : {&e.event_id, &e.target, &e.from_state, &e.to_state, &e.layer, &e.reason}) {
      append_copy_field(out, *f);
      out.push_back('\t');
    }
    const auto us = to_micros(e.at);
    const std::time_t secs = static_cast<std::time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char at[48];
    std::snprintf(at, sizeof at, "%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00\t", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
    out += at;
    append_copy_field(out, e.detail_json);
    out.push_back('\n');
  }
  return out;
}

// Empty tables, dirty pages flushed: each write starts from the same state.
void reset(Pg& pg) {
  pg.query("TRUNCATE healthsweep_events, healthsweep_targets");
  pg.query("CHECKPOINT");
}

void expect_rows(Pg& pg, const char* what, std::size_t n) {
  const auto got = scalar(pg, "SELECT count(*) FROM healthsweep_events");
  if (got != std::to_string(n))
    throw std::runtime_error(std::string(what) + ": " + got + " rows in healthsweep_events, not " +
                             std::to_string(n));
}

// Context switches of the calling thread: voluntary ones are waits in the
// kernel (the disk, a lock), involuntary ones preemption by other work; a
// slow call with neither was busy.
struct Switches {
  long waited = 0, preempted = 0;
  static Switches now() {
    rusage u{};
    ::getrusage(RUSAGE_THREAD, &u);
    return {u.ru_nvcsw, u.ru_nivcsw};
  }
  Switches since(Switches before) const { return {waited - before.waited, preempted - before.preempted}; }
};

struct StoreRun {
  double record_ms = 0, landed_ms = 0;
  std::vector<double> per_call_ms;
  std::uint64_t syncs_after_calls = 0, syncs_at_end = 0;
  Switches switches;  // during the calls
};

// The Store, connected and migrated first; then every event recorded in one
// turn of the loop, and the loop run until the queue is empty.
StoreRun run_store(const std::string& dsn, const std::string& spool_dir, const std::vector<Event>& events) {
  net::io_context io;
  healthsweep::metrics::Metrics m("bench");
  healthsweep::metrics::LivenessRegistry live;
  healthsweep::store::Store store(io.get_executor(), dsn, spool_dir, m, live);
  store.start();
  const auto ready_by = steady::now() + 30s;
  while (!store.healthy() && steady::now() < ready_by) io.run_one_for(100ms);
  if (!store.healthy()) throw std::runtime_error("the Store did not connect and migrate within 30 s");

  StoreRun r;
  r.per_call_ms.reserve(events.size());
  steady::time_point first;
  bool recorded = false;
  net::post(io, [&] {  // one turn of the loop: what a mass death holds it for
    const auto switches = Switches::now();
    first = steady::now();
    for (const auto& e : events) {
      const auto a = steady::now();
      store.record(e);
      r.per_call_ms.push_back(ms_between(a, steady::now()));
    }
    r.record_ms = ms_between(first, steady::now());
    r.switches = Switches::now().since(switches);
    r.syncs_after_calls = store.spool_syncs();
    recorded = true;
  });
  while (!recorded) io.run_one();
  const auto landed_by = steady::now() + 60s;
  while (store.spooled() > 0 && steady::now() < landed_by) io.run_one_for(100ms);
  if (store.spooled() > 0) throw std::runtime_error("the Store did not write every event within 60 s");
  r.landed_ms = ms_between(first, steady::now());  // the last statement's result is in: committed
  r.syncs_at_end = store.spool_syncs();
  store.stop();
  return r;
}

// The per-event baselines cost a disk flush each (milliseconds on a busy
// VM): each stops after this long, so that a run stays bounded, and its rate
// is taken over the events it did (the cost per event is flat).
constexpr auto per_event_cap = 35s;

struct Timed {
  double ms = 0;
  std::size_t done = 0;  // fewer than the events when per_event_cap ended it
};

// For each event in order until per_event_cap has passed.
Timed per_event(const std::vector<Event>& events, const std::function<void(const Event&)>& write) {
  Timed t;
  const auto first = steady::now();
  for (const auto& e : events) {
    write(e);
    ++t.done;
    if (steady::now() - first > per_event_cap) break;
  }
  t.ms = ms_between(first, steady::now());
  return t;
}

std::string filesystem_of(const std::string& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return "unknown";
  switch (s.f_type) {
    case 0xEF53: return "ext4/ext3";
    case 0x01021994: return "tmpfs (fdatasync is a no-op: figures meaningless)";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: return "f_type 0x" + std::to_string(s.f_type);
  }
}

void print_us(const char* what, const std::vector<double>& ms) {
  std::printf("%-46s p50 %9.1f us  p99 %9.1f us  max %9.1f us\n", what, percentile(ms, 50) * 1000,
              percentile(ms, 99) * 1000, percentile(ms, 100) * 1000);
}

double per_second(std::size_t n, double ms) { return static_cast<double>(n) / (ms / 1000.0); }

int run(const std::string& server, const std::string& work, int n) {
  spdlog::set_level(spdlog::level::warn);  // the store's migration lines are not the benchmark's
  const auto events = mass_death(n);
  const auto count = events.size();
  ThrowawayDatabase db(server);
  Pg pg(db.dsn());
  std::printf("# bench_store: %zu events of %zu targets; PostgreSQL %s; spool in %s (%s); load %s\n", count,
              count, scalar(pg, "SHOW server_version").c_str(), work.c_str(), filesystem_of(work).c_str(),
              load_average().c_str());

  // SpoolFile::append: write + fdatasync per event, on the caller's thread.
  std::vector<double> append_calls;
  append_calls.reserve(count);
  healthsweep::store::SpoolFile baseline_spool(work + "/spool-baseline");
  const auto append_switches = Switches::now();
  const auto append = per_event(events, [&](const Event& e) {
    const auto a = steady::now();
    baseline_spool.append(e);
    append_calls.push_back(ms_between(a, steady::now()));
  });
  const auto append_switched = Switches::now().since(append_switches);

  // The Store migrates the schema; the tables are empty then.
  pg.query("CHECKPOINT");
  const auto s = run_store(db.dsn(), work + "/spool-store", events);
  expect_rows(pg, "Store", count);
  const auto transactions = scalar(pg, "SELECT count(DISTINCT xmin::text) FROM healthsweep_events");
  if (scalar(pg, "SELECT count(*) FROM healthsweep_targets") != std::to_string(count))
    throw std::runtime_error("Store: not every target row written");

  reset(pg);
  const std::string one_event_sql(write_event_sql);
  const auto stmt = per_event(events, [&](const Event& e) { pg.query(one_event_sql, event_params(e)); });
  expect_rows(pg, "write_event_sql per event", stmt.done);
  reset(pg);
  const auto insert = per_event(events, [&](const Event& e) {
    auto params = event_params(e);
    params.resize(8);  // the event row's columns only
    pg.query(plain_insert_sql, params);
  });
  expect_rows(pg, "INSERT per event", insert.done);
  reset(pg);
  const auto copy_first = steady::now();
  pg.copy_in(copy_sql, copy_rows(events));
  const double copy_ms = ms_between(copy_first, steady::now());
  expect_rows(pg, "COPY", count);

  std::printf("## A. loop time: %zu events recorded in one turn of the loop\n", count);
  std::printf("%-58s %9.1f ms  %7.2f us/event  fdatasyncs %" PRIu64 " after the calls, %" PRIu64
              " when written\n", "Store::record() (group commit)", s.record_ms, s.record_ms * 1000 / count,
              s.syncs_after_calls, s.syncs_at_end);
  const auto capped = [&](const Timed& t) {
    if (t.done < count) std::printf("  (stopped after %zu of %zu events: per_event_cap)\n", t.done, count);
  };
  const double append_us = append.ms * 1000 / static_cast<double>(append.done);
  std::printf("%-58s %9.1f ms  %7.2f us/event  fdatasyncs %zu\n",
              "SpoolFile::append() (BASELINE: fdatasync per event)", append.ms, append_us, append.done);
  capped(append);
  print_us("  per call: Store::record()", s.per_call_ms);
  print_us("  per call: SpoolFile::append() (BASELINE)", append_calls);
  std::printf("  context switches of the loop thread, record(): %ld waits in the kernel, %ld preemptions; "
              "append(): %ld, %ld\n", s.switches.waited, s.switches.preempted, append_switched.waited,
              append_switched.preempted);
  const double record_us = s.record_ms * 1000 / static_cast<double>(count);
  std::printf("ratio loop time per event, record / append: %.4f (%.0fx shorter)\n", record_us / append_us,
              append_us / record_us);

  std::printf("## B. events/s into healthsweep_events (%zu events, %zu distinct targets)\n", count, count);
  const auto line = [&](const char* what, Timed t) {
    std::printf("%-58s %9.1f ms  %9.0f events/s\n", what, t.ms, per_second(t.done, t.ms));
    capped(t);
  };
  line("Store: first record() -> spooled()==0 (batched)", {s.landed_ms, count});
  std::printf("  %s transactions for %zu events\n", transactions.c_str(), count);
  line("(i) write_event_sql per event (BASELINE: as before)", stmt);
  line("(ii) plain INSERT per event", insert);
  line("(iii) COPY FROM STDIN (practical limit)", {copy_ms, count});
  const double batched = per_second(count, s.landed_ms);
  std::printf("ratio events/s batched / per-event write_event_sql: %.2f\n", batched / per_second(stmt.done, stmt.ms));
  std::printf("ratio events/s batched / plain INSERT per event: %.2f\n", batched / per_second(insert.done, insert.ms));
  std::printf("ratio events/s batched / COPY: %.3f\n", batched / per_second(count, copy_ms));
  std::printf("issue 15 goal >= 20,000 events/s: %s (%.0f events/s)\n", batched >= 20000 ? "met" : "NOT met",
              batched);
  std::printf("# load after: %s\n", load_average().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SERVER_DSN WORKDIR [N=10000]\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[1], argv[2], argc > 3 ? std::atoi(argv[3]) : 10000);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "bench_store: %s\n", x.what());
    return 1;
  }
}
