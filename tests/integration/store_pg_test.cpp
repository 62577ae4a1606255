// The PostgreSQL store against real PostgreSQL: migrations run once (also
// with two stores starting together), events are written in order with a
// NOTIFY each, an outage spools events (also across a Store restart) that are
// written in order exactly once when PostgreSQL is back, and replaying a
// spool duplicates nothing. Each test uses its own database or server.
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "store/schema.hpp"
#include "store/spool.hpp"
#include "store/store.hpp"
#include "tests/support/process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <optional>
#include <random>
#include <thread>

namespace healthsweep::store {
using namespace healthsweep::store;
namespace {
using namespace std::chrono_literals;
using healthsweep::testing::read_file;
using healthsweep::testing::run_shell;
using healthsweep::testing::TempDir;
using Rows = std::vector<std::vector<std::string>>;

// A blocking libpq connection for the test's own checks.
class Pg {
 public:
  explicit Pg(const std::string& dsn) : c_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c_));
  }
  ~Pg() { PQfinish(c_); }
  Rows query(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string e = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(sql + ": " + e);
    }
    Rows rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      auto& row = rows.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
    }
    PQclear(r);
    return rows;
  }
  // Payloads of the notifications received so far.
  std::vector<std::string> notifications() {
    PQconsumeInput(c_);
    while (PGnotify* n = PQnotifies(c_)) {
      if (std::string(n->relname) == "healthsweep_events") seen_.emplace_back(n->extra);
      PQfreemem(n);
    }
    return seen_;
  }

 private:
  PGconn* c_;
  std::vector<std::string> seen_;
};

// CREATE DATABASE store_<random> on the DSN's server; dropped at the end.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& server_dsn) : server_(server_dsn) {
    std::random_device rd;
    name_ = "store_" + std::to_string(rd()) + std::to_string(rd() % 1000);
    Pg(server_).query("CREATE DATABASE " + name_);
  }
  ~TestDatabase() {
    try {
      Pg(server_).query("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& x) {
      ADD_FAILURE() << "cannot drop " << name_ << ": " << x.what();
    }
  }
  std::string dsn() const { return server_ + " dbname=" + name_; }  // the last dbname wins

 private:
  std::string server_, name_;
};

// A PostgreSQL server of the test's own, to stop and start at will.
class PrivatePostgres {
 public:
  PrivatePostgres() : port_(healthsweep::testing::free_port()) {
    std::string bin;
    run_shell("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1 | tr -d '\\n'", &bin);
    ctl_ = "runuser -u postgres -- " + bin + "/pg_ctl -D " + dir_.path() + "/pg/data";
    ok_ = run_shell("chmod 755 " + dir_.path() + " && mkdir -p " + dir_.path() + "/pg && chown postgres " +
                    dir_.path() + "/pg && runuser -u postgres -- " + bin + "/initdb -D " + dir_.path() +
                    "/pg/data -A trust >" + dir_.path() + "/initdb.log 2>&1") == 0;
  }
  ~PrivatePostgres() { stop(); }
  bool usable() const { return ok_; }
  bool start() {
    return run_shell(ctl_ + " -o '-k " + dir_.path() + "/pg -p " + std::to_string(port_) +
                     " -c listen_addresses=127.0.0.1' -l " + dir_.path() + "/pg/log -w start >/dev/null") == 0;
  }
  void stop() { run_shell(ctl_ + " -m immediate stop >/dev/null 2>&1"); }
  std::string dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
  }

 private:
  TempDir dir_;
  int port_;
  std::string ctl_;
  bool ok_ = false;
};

struct Loop {
  boost::asio::io_context io;
  metrics::Metrics metrics{"test"};
  metrics::LivenessRegistry live;

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds timeout = 30s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      io.run_for(10ms);
      if (io.stopped()) io.restart();
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }
  std::unique_ptr<Store> store(const std::string& dsn, const std::string& spool_dir) {
    return std::make_unique<Store>(io.get_executor(), dsn, spool_dir, metrics, live, 60s);
  }
  // A started store, connected and migrated (nullptr if it never got there).
  std::unique_ptr<Store> healthy_store(const std::string& dsn, const std::string& spool_dir) {
    auto s = store(dsn, spool_dir);
    s->start();
    if (!run_until([&] { return s->healthy(); })) return nullptr;
    return s;
  }
};

Event transition(int n, int targets = 4) {
  Event e;
  e.target = "t" + std::to_string(n % targets);
  e.from_state = n < targets ? "unknown" : "healthy";
  e.to_state = n % 2 ? "suspect" : "healthy";
  e.layer = "passive";
  e.reason = "event " + std::to_string(n);
  e.at = std::chrono::system_clock::time_point(std::chrono::microseconds(1764134400000000LL + n * 1000LL));
  e.detail_json = R"({"n":)" + std::to_string(n) + "}";
  e.restarts = n;
  e.quarantined = n % 3 == 0;
  return e;
}

// Reasons of the stored events in id order, which is write order.
std::vector<std::string> stored_reasons(Pg& pg) {
  std::vector<std::string> out;
  for (auto& r : pg.query("SELECT reason FROM healthsweep_events ORDER BY id")) out.push_back(r[0]);
  return out;
}
std::vector<std::string> reasons(int from, int to) {
  std::vector<std::string> out;
  for (int n = from; n < to; ++n) out.push_back("event " + std::to_string(n));
  return out;
}

TEST(StorePg, MigrationsRunOnceEvenWhenTwoStoresStartTogether) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  {
    auto a = loop.store(db.dsn(), dir.file("a"));
    auto b = loop.store(db.dsn(), dir.file("b"));
    a->start();
    b->start();
    ASSERT_TRUE(loop.run_until([&] { return a->healthy() && b->healthy(); }));
  }
  Pg pg(db.dsn());
  const auto applied = pg.query("SELECT version, applied_at FROM healthsweep_schema_migrations ORDER BY version");
  // Every migration once, in order (store/schema.cpp: 4 since the cluster's table).
  ASSERT_EQ(applied.size(), store::migrations().size());
  for (std::size_t i = 0; i < applied.size(); ++i) EXPECT_EQ(applied[i][0], std::to_string(i + 1));
  EXPECT_EQ(pg.query("SELECT table_name FROM information_schema.tables WHERE table_name IN "
                     "('healthsweep_targets', 'healthsweep_events') ORDER BY 1"),
            (Rows{{"healthsweep_events"}, {"healthsweep_targets"}}));

  ASSERT_TRUE(loop.healthy_store(db.dsn(), dir.file("a")));
  EXPECT_EQ(pg.query("SELECT version, applied_at FROM healthsweep_schema_migrations ORDER BY version"), applied);
  EXPECT_EQ(loop.live.view().subsystems[5].status, metrics::Status::ok);
}

TEST(StorePg, HostNamesAndUrisConnectThroughAnAddressResolvedOffTheLoop) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  // localhost comes from /etc/hosts: no DNS traffic. libpq gets hostaddr=
  // from Asio's resolver instead of resolving on the loop itself.
  std::string by_name = db.dsn();
  by_name.replace(by_name.find("host=127.0.0.1"), 14, "host=localhost");
  ASSERT_TRUE(loop.healthy_store(by_name, dir.file("name"))) << by_name;
  const std::string dsn = db.dsn();
  const auto port_at = dsn.find("port=") + 5;
  const auto port = dsn.substr(port_at, dsn.find(' ', port_at) - port_at);
  const auto name = dsn.substr(dsn.rfind("dbname=") + 7);  // the last dbname wins
  const std::string uri = "postgresql://postgres@localhost:" + port + "/" + name;
  ASSERT_TRUE(loop.healthy_store(uri, dir.file("uri"))) << uri;
}

// A port on loopback nobody listens on (bound, then closed: refused at once).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(StorePg, AMultiHostDsnNamingADeadHostFirstConnectsToTheLiveOneAndStores) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  const std::string dsn = db.dsn();
  const auto port_at = dsn.find("port=") + 5;
  const auto live = dsn.substr(port_at, dsn.find(' ', port_at) - port_at);
  const auto name = dsn.substr(dsn.rfind("dbname=") + 7);
  const auto dead = std::to_string(closed_port());
  // Addresses, then names (localhost, from /etc/hosts: resolved off the loop,
  // one hostaddr per address, the ports kept in step), as libpq's
  // multi-host failover takes them; read-write: the primary.
  for (const std::string hosts : {"127.0.0.1,127.0.0.1", "localhost,localhost", "127.0.0.1,localhost"}) {
    const std::string multi = "host=" + hosts + " port=" + dead + "," + live + " user=postgres dbname=" + name +
                              " target_session_attrs=read-write connect_timeout=5";
    TempDir dir;
    Loop loop;
    auto store = loop.healthy_store(multi, dir.path());
    ASSERT_TRUE(store) << multi;
    auto e = transition(0);
    e.reason = "via " + hosts;
    store->record(e);
    ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; })) << multi;
  }
  Pg pg(db.dsn());
  EXPECT_EQ(stored_reasons(pg), (std::vector<std::string>{"via 127.0.0.1,127.0.0.1", "via localhost,localhost",
                                                          "via 127.0.0.1,localhost"}));
}

TEST(StorePg, EventsAreWrittenInOrderWithANotifyEach) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  auto store = loop.healthy_store(db.dsn(), dir.path());
  ASSERT_TRUE(store);
  Pg listener(db.dsn());
  listener.query("LISTEN healthsweep_events");

  std::vector<std::string> expected_targets;
  for (int n = 0; n < 20; ++n) {
    auto e = transition(n);
    if (n == 19) e.removed = true;  // t3 leaves the fleet
    expected_targets.push_back(e.target);
    store->record(e);
  }
  auto bad_detail = transition(20);
  bad_detail.detail_json = "not json";
  expected_targets.push_back(bad_detail.target);
  store->record(bad_detail);
  EXPECT_GE(store->spooled(), 1u);

  bool drained = false;
  boost::asio::co_spawn(loop.io, store->drain(30s), [&](std::exception_ptr) { drained = true; });
  ASSERT_TRUE(loop.run_until([&] { return drained; }));
  EXPECT_EQ(store->spooled(), 0u);
  EXPECT_EQ(read_file(dir.file("events.jsonl")), "");

  Pg pg(db.dsn());
  auto want = reasons(0, 21);
  EXPECT_EQ(stored_reasons(pg), want);
  EXPECT_EQ(pg.query("SELECT count(DISTINCT event_id) FROM healthsweep_events"), (Rows{{"21"}}));
  EXPECT_EQ(pg.query("SELECT detail->>'n', from_state, to_state, layer, "
                     "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') "
                     "FROM healthsweep_events WHERE reason = 'event 5'"),
            (Rows{{"5", "healthy", "suspect", "passive", "2025-11-26 05:20:00.005000"}}));
  EXPECT_EQ(pg.query("SELECT detail->>'raw' FROM healthsweep_events WHERE reason = 'event 20'"),
            (Rows{{"not json"}}));
  // Each target row holds its last transition; t3 was removed.
  EXPECT_EQ(pg.query("SELECT id, state, reason, restarts, quarantined FROM healthsweep_targets ORDER BY id"),
            (Rows{{"t0", "healthy", "event 20", "20", "f"},
                  {"t1", "suspect", "event 17", "17", "f"},
                  {"t2", "healthy", "event 18", "18", "t"}}));
  ASSERT_TRUE(healthsweep::testing::eventually(
      [&] { return listener.notifications().size() >= expected_targets.size(); }, 10s));
  EXPECT_EQ(listener.notifications(), expected_targets);
  EXPECT_NE(loop.metrics.scrape(loop.live).find("healthsweep_store_spool_events 0"), std::string::npos);
}

// Fencing (issue 14): an event applies to its target row only while the
// lease it was judged under (instance, epoch) is live in healthsweep_members,
// decided in the writing statement itself. A fenced event is still logged.
TEST(StorePg, AnEventOfALeaseNoLongerHeldIsLoggedAsFencedAndLeavesTheTargetRowAlone) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  auto store = loop.healthy_store(db.dsn(), dir.path());
  ASSERT_TRUE(store);
  Pg pg(db.dsn());
  Pg listener(db.dsn());
  listener.query("LISTEN healthsweep_events");
  pg.query("INSERT INTO healthsweep_members (instance_id, advertise, epoch, acquired_at, renewed_at, expires_at) "
           "VALUES ('hs-a', 'http://127.0.0.1:1', 7, now(), now(), now() + interval '1 minute'), "
           "       ('hs-b', 'http://127.0.0.1:2', 8, now(), now(), now() - interval '1 second')");
  const auto judged = [](int n, std::string target, std::string instance, std::int64_t epoch) {
    auto e = transition(n);
    e.target = std::move(target);
    e.instance = std::move(instance);
    e.epoch = epoch;
    return e;
  };
  store->record(judged(0, "t-a", "hs-a", 7));  // the live lease: applied
  store->record(judged(1, "t-a", "hs-a", 6));  // hs-a's previous lease: fenced
  store->record(judged(2, "t-b", "hs-b", 8));  // an expired lease: fenced, no row
  store->record(judged(3, "t-c", "", 0));      // no cluster section: never fenced
  store->record(judged(4, "t-d", "hs-z", 9));  // no such member: fenced
  bool drained = false;
  boost::asio::co_spawn(loop.io, store->drain(30s), [&](std::exception_ptr) { drained = true; });
  ASSERT_TRUE(loop.run_until([&] { return drained; }));

  EXPECT_EQ(stored_reasons(pg), reasons(0, 5)) << "every event is logged, fenced or not";
  EXPECT_EQ(pg.query("SELECT reason, detail->>'instance', detail->>'epoch', coalesce(detail->>'fenced', '-'), "
                     "detail->>'n' FROM healthsweep_events ORDER BY id"),
            (Rows{{"event 0", "hs-a", "7", "-", "0"},
                  {"event 1", "hs-a", "6", "true", "1"},
                  {"event 2", "hs-b", "8", "true", "2"},
                  {"event 3", "", "", "-", "3"},
                  {"event 4", "hs-z", "9", "true", "4"}}));
  EXPECT_EQ(pg.query("SELECT id, reason, instance, epoch FROM healthsweep_targets ORDER BY id"),
            (Rows{{"t-a", "event 0", "hs-a", "7"}, {"t-c", "event 3", "", "0"}}));
  // Listeners act on events: only those applied are notified.
  ASSERT_TRUE(healthsweep::testing::eventually([&] { return listener.notifications().size() >= 2; }, 10s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(listener.notifications(), (std::vector<std::string>{"t-a", "t-c"}));
}

TEST(StorePg, AMassDeathIsWrittenInBatchesInOrderWithANotifyEachAndReplaysAreNoOps) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  auto store = loop.healthy_store(db.dsn(), dir.path());
  ASSERT_TRUE(store);
  Pg listener(db.dsn());
  listener.query("LISTEN healthsweep_events");
  // 3,000 targets go offline at once, then the first 10 come back and m-7
  // leaves the fleet: one turn of the loop records all 3,011.
  constexpr int targets = 3000;
  std::vector<Event> recorded;
  for (int n = 0; n < targets; ++n) {
    auto e = transition(n, targets);
    e.target = "m-" + std::to_string(n);
    e.from_state = "online";
    e.to_state = "offline";
    recorded.push_back(e);
  }
  for (int n = 0; n < 11; ++n) {
    auto e = transition(targets + n, targets);
    e.target = "m-" + std::to_string(n == 10 ? 7 : n);
    e.from_state = "offline";
    e.to_state = "online";
    e.removed = n == 10;
    recorded.push_back(e);
  }
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    recorded[i].event_id = "mass-" + std::to_string(i);  // replayed below
    store->record(recorded[i]);
  }
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; }, 60s));
  // The group commit flushed the spool, at most once per line (far fewer
  // on a real disk: bench/bench_store.cpp counts them).
  ASSERT_TRUE(healthsweep::testing::eventually([&] { return store->spool_syncs() >= 1; }, 20s));
  EXPECT_LE(store->spool_syncs(), recorded.size());
  Pg pg(db.dsn());
  EXPECT_EQ(stored_reasons(pg), reasons(0, targets + 11));
  // Rows inserted by one statement share a transaction id: far fewer
  // transactions than events (one per event before batching).
  const auto transactions = std::stoi(pg.query("SELECT count(DISTINCT xmin::text) FROM healthsweep_events")[0][0]);
  EXPECT_LE(transactions, 30) << "batches of up to 1,000 events";
  EXPECT_GE(transactions, 4) << "a target twice in a row ends a batch (its NOTIFY would merge)";
  // Target rows as the last event of each left them; m-7 removed.
  EXPECT_EQ(pg.query("SELECT state, reason FROM healthsweep_targets WHERE id IN ('m-0', 'm-9', 'm-10') ORDER BY id"),
            (Rows{{"online", "event 3000"}, {"offline", "event 10"}, {"online", "event 3009"}}));
  EXPECT_EQ(pg.query("SELECT count(*) FROM healthsweep_targets"), (Rows{{std::to_string(targets - 1)}}));
  EXPECT_EQ(pg.query("SELECT count(*) FROM healthsweep_targets WHERE id = 'm-7'"), (Rows{{"0"}}));
  ASSERT_TRUE(healthsweep::testing::eventually(
      [&] { return listener.notifications().size() >= recorded.size(); }, 20s));
  const auto notes = listener.notifications();
  ASSERT_EQ(notes.size(), recorded.size());
  for (std::size_t i = 0; i < notes.size(); ++i) ASSERT_EQ(notes[i], recorded[i].target) << i;

  // The same events again (a spool replayed after a crash): nothing changes.
  const auto rows_before = pg.query("SELECT id, state, reason FROM healthsweep_targets ORDER BY id");
  for (const auto& e : recorded) store->record(e);
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; }, 60s));
  EXPECT_EQ(pg.query("SELECT count(*) FROM healthsweep_events"), (Rows{{std::to_string(recorded.size())}}));
  EXPECT_EQ(pg.query("SELECT id, state, reason FROM healthsweep_targets ORDER BY id"), rows_before);
  loop.run_for(200ms);
  EXPECT_EQ(listener.notifications().size(), recorded.size()) << "a replay sends no NOTIFY";
}

TEST(StorePg, ThePreviousRunsTargetRowsAreReadBackBeforeThisRunWritesAny) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir first_dir, second_dir;
  Loop loop;
  using std::chrono::system_clock;
  const system_clock::time_point r1(std::chrono::microseconds(1764134400000001LL));
  const system_clock::time_point r2(std::chrono::microseconds(1764134460000002LL));
  {  // The previous run: q quarantined after restarts at r1 and r2.
    auto store = loop.healthy_store(db.dsn(), first_dir.path());
    ASSERT_TRUE(store);
    auto e = transition(0);
    e.target = "q";
    e.restarts = 4;
    e.quarantined = true;
    e.recent_restarts = {r1, r2};
    store->record(e);
    bool drained = false;
    boost::asio::co_spawn(loop.io, store->drain(30s), [&](std::exception_ptr) { drained = true; });
    ASSERT_TRUE(loop.run_until([&] { return drained && store->spooled() == 0; }));
  }
  {  // ... whose last event never reached PostgreSQL: it waits in the spool.
    SpoolFile spool(second_dir.path());
    auto e = transition(1);
    e.event_id = "previous-run-1";  // Store::record would have named it
    e.target = "s";
    e.restarts = 2;
    e.recent_restarts = {r2};
    spool.append(e);
  }
  // This run: an event for q is recorded before the store even connects.
  auto store = loop.store(db.dsn(), second_dir.path());
  std::optional<std::vector<TargetRow>> rows;
  Pg pg(db.dsn());
  std::string q_row_when_read;
  store->on_restore([&](std::vector<TargetRow> r) {
    rows = std::move(r);
    q_row_when_read = pg.query("SELECT restarts FROM healthsweep_targets WHERE id = 'q'").at(0).at(0);
  });
  auto now_event = transition(2);
  now_event.target = "q";
  now_event.restarts = 0;
  store->record(now_event);
  store->start();
  ASSERT_TRUE(loop.run_until([&] { return rows.has_value(); }));
  EXPECT_EQ(q_row_when_read, "4") << "this run's event was written before the read";
  std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, "q");
  EXPECT_EQ((*rows)[0].restarts, 4);
  EXPECT_TRUE((*rows)[0].quarantined);
  EXPECT_EQ((*rows)[0].recent_restarts, (std::vector<system_clock::time_point>{r1, r2}));
  EXPECT_EQ((*rows)[1].id, "s") << "the previous run's spooled event was written first";
  EXPECT_EQ((*rows)[1].restarts, 2);
  EXPECT_FALSE((*rows)[1].quarantined);
  EXPECT_EQ((*rows)[1].recent_restarts, (std::vector<system_clock::time_point>{r2}));
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; }));
  EXPECT_EQ(pg.query("SELECT restarts, cardinality(recent_restarts) FROM healthsweep_targets WHERE id = 'q'"),
            (Rows{{"0", "0"}}));
}

TEST(StorePg, AnEventPostgresKeepsRefusingIsSetAsideNotBlocking) {
  HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
  TestDatabase db(server);
  TempDir dir;
  Loop loop;
  auto store = loop.healthy_store(db.dsn(), dir.path());
  ASSERT_TRUE(store);
  Pg pg(db.dsn());
  pg.query(R"(CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER poison BEFORE INSERT ON healthsweep_events FOR EACH ROW EXECUTE FUNCTION poison())");
  auto poison = transition(1);
  poison.reason = "poison";
  store->record(transition(0));
  store->record(poison);
  store->record(transition(2));
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; }));
  EXPECT_EQ(stored_reasons(pg), (std::vector<std::string>{"event 0", "event 2"}));
  const auto rejected = parse_spool(read_file(dir.file("rejected/events.jsonl")));
  ASSERT_EQ(rejected.events.size(), 1u);
  EXPECT_EQ(rejected.events[0].reason, "poison");
  EXPECT_TRUE(store->healthy());
}

TEST(StorePg, OutageSpoolsAcrossRestartsThenWritesInOrderExactlyOnce) {
  PrivatePostgres pp;
  if (!pp.usable()) {
    if (healthsweep::testing::in_ci()) GTEST_FAIL() << "cannot initdb a private PostgreSQL (CI=true)";
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot initdb a private PostgreSQL (needs root and postgres binaries)";
  }
  TempDir dir;
  const auto spool_dir = dir.file("spool");
  const auto spool_file = spool_dir + "/events.jsonl";
  Loop loop;
  {  // PostgreSQL not running: events go to the spool only
    auto store = loop.store(pp.dsn(), spool_dir);
    store->start();
    for (int n = 0; n < 5; ++n) {
      store->record(transition(n));
      EXPECT_EQ(store->spooled(), static_cast<std::size_t>(n + 1));
    }
    loop.run_for(1s);
    EXPECT_FALSE(store->healthy());
    EXPECT_EQ(store->spooled(), 5u);
    EXPECT_NE(loop.metrics.scrape(loop.live).find("healthsweep_store_spool_events 5"), std::string::npos);
    bool drained = false;
    boost::asio::co_spawn(loop.io, store->drain(300ms), [&](std::exception_ptr) { drained = true; });
    ASSERT_TRUE(loop.run_until([&] { return drained; }, 10s));
    EXPECT_EQ(store->spooled(), 5u);
  }
  auto store = loop.store(pp.dsn(), spool_dir);  // restarted while still down
  EXPECT_EQ(store->spooled(), 5u);
  store->start();
  for (int n = 5; n < 8; ++n) store->record(transition(n));
  loop.run_for(500ms);
  EXPECT_EQ(store->spooled(), 8u);
  EXPECT_EQ(parse_spool(read_file(spool_file)).events.size(), 8u);
  std::filesystem::copy_file(spool_file, dir.file("spool-before-write"));

  ASSERT_TRUE(pp.start()) << "private PostgreSQL did not start";
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0; })) << store->spooled();
  EXPECT_TRUE(store->healthy());
  EXPECT_EQ(read_file(spool_file), "");
  {
    Pg pg(pp.dsn());
    EXPECT_EQ(stored_reasons(pg), reasons(0, 8));
  }

  // The server dies under an established connection and comes back.
  pp.stop();
  for (int n = 8; n < 10; ++n) store->record(transition(n));
  ASSERT_TRUE(loop.run_until([&] { return !store->healthy(); }));
  loop.run_for(500ms);
  EXPECT_EQ(store->spooled(), 2u);
  ASSERT_TRUE(pp.start());
  ASSERT_TRUE(loop.run_until([&] { return store->spooled() == 0 && store->healthy(); }));
  store.reset();

  // A spool replayed twice (a crash before the spool was trimmed) is a no-op.
  Pg pg(pp.dsn());
  const auto targets_before = pg.query("SELECT * FROM healthsweep_targets ORDER BY id");
  pg.query("LISTEN healthsweep_events");
  for (int replay = 0; replay < 2; ++replay) {
    std::filesystem::copy_file(dir.file("spool-before-write"), spool_file,
                               std::filesystem::copy_options::overwrite_existing);
    auto again = loop.store(pp.dsn(), spool_dir);
    EXPECT_EQ(again->spooled(), 8u);
    again->start();
    ASSERT_TRUE(loop.run_until([&] { return again->spooled() == 0; }));
  }
  EXPECT_EQ(stored_reasons(pg), reasons(0, 10));
  EXPECT_EQ(pg.query("SELECT * FROM healthsweep_targets ORDER BY id"), targets_before);
  EXPECT_TRUE(pg.notifications().empty()) << "a replayed event was notified again";
}

}  // namespace
}  // namespace healthsweep::store
