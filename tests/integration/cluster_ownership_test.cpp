// Issue 14, ownership: three daemons over one PostgreSQL share 300 static
// targets, each judged by exactly one live instance (rendezvous hashing over
// the members that own); a killed instance's targets are judged again by
// the survivors within lease + 2 s, and a clean stop hands its targets over
// at once. Each target's restart history, read from PostgreSQL when an
// instance takes it over, is restored exactly once. The cluster_targets_*
// metrics agree: owned gauges add up to the fleet, a kill raises the
// survivors' takeovers by the dead one's share, nothing unowned at rest.
// A container that dies during a takeover is restarted exactly once (each
// container counts its own starts), and a rolling restart of all three
// restarts no healthy target. Real PostgreSQL (HS_TEST_PG_DSN), a database of the test's
// own, real daemons, real Podman for the containers.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <array>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/cluster_support.hpp"
#include "tests/integration/faults_support.hpp"
#include "tests/integration/target_json.hpp"
#include "tests/support/engine.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int target_count = 300;

// The engine's name for container "c<n>" (appended: g++ 12 warns, -Wrestrict,
// a false positive, on "c" + std::to_string(n) here).
std::string container_of(const Engine& e, int n) { return e.name(std::string("c").append(std::to_string(n))); }

// The first `containers` targets name a container each on `engine`
// (container_of), checked by the proactive sweep every second.
std::string targets_section(const Engine* engine = nullptr, int containers = 0) {
  std::string out = "targets:\n  static:\n";
  for (int n = 0; n < target_count; ++n) {
    out += "    - { id: t-" + std::to_string(n);
    if (n < containers) out += ", container: " + container_of(*engine, n);
    // Without containers, t-0 alone is checked, against a port nobody
    // listens on: its owner writes events, which must name that owner's
    // lease and never be fenced.
    else if (n == 0) out += ", tcp: \"127.0.0.1:1\"";
    out += " }\n";
  }
  if (engine)
    out += "engine:\n  socket: \"" + engine->socket() +
           "\"\nsweeps:\n  proactive: { interval: 1s, timeout: 2s }\n"
           "remediation:\n  restart: { settle: 500ms, backoff_initial: 200ms, backoff_max: 1s }\n";
  else
    out += "sweeps: { proactive: { interval: 1s } }\n";
  return out;
}

// Containers that count their own starts: each start of container_of(n)
// appends a line to a file of `dir` on the host, so the count needs nothing
// from the engine. (Its event log did not do: Docker's is a bounded buffer
// shared by every test, and once, in CI, Podman's showed no start for a
// restart the container's state proved.)
struct CountedStarts {
  TempDir dir;
  void run(Engine& e, int n) const {
    e.run(container_of(e, n), "t-" + std::to_string(n), "-v " + dir.path() + ":/starts",
          "sh -c 'echo start >> /starts/c" + std::to_string(n) + "; exec sleep 100000'");
  }
  // How many times container_of(n) was started, its first run included.
  int of(int n) const {
    std::ifstream in(dir.file("c" + std::to_string(n)));
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }
};

// Every target judged by exactly one of `daemons`: the owner of each.
std::optional<std::map<std::string, int>> owners(const std::vector<const Daemon*>& daemons, std::string* why) {
  return healthsweep::testing::owners(daemons, target_count, why);
}

// The daemon among `daemons` that judges `id` (nullptr: none).
const Daemon* judge_of(const std::vector<const Daemon*>& daemons, const std::string& id) {
  for (const Daemon* d : daemons)
    if (judged(*d).contains(id)) return d;
  return nullptr;
}

// Every target `daemons` judge shows the 7 restarts of its row: restored
// once, by whichever instance took it. The rows are read just after the
// takeover, so a target may show 0 for a moment first.
bool restored_once(const std::vector<const Daemon*>& daemons, std::string* why) {
  for (const Daemon* d : daemons)
    for (const auto& [id, t] : judged(*d))
      if (t.restarts != 7) {
        *why = id + " shows " + std::to_string(t.restarts) + " restarts";
        return false;
      }
  return true;
}

class ClusterOwnership : public ::testing::Test {
 protected:
  void SetUp() override {
    HS_REQUIRE_PG_DSN();
    // The schema; then every target gets a row as a previous owner left it: 7 restarts.
    db_ = cluster_database("owners");
    ASSERT_FALSE(HasFailure()) << "the schema was not applied";
    PgSession(db_->dsn())
        .query("INSERT INTO healthsweep_targets (id, state, since, restarts) SELECT 't-' || g, 'online', now(), 7 "
               "FROM generate_series(0, " + std::to_string(target_count - 1) + ") g");
  }
  std::unique_ptr<Daemon> start(const std::string& id, const Engine* engine = nullptr, int containers = 0) {
    spools_.push_back(std::make_unique<TempDir>());
    // lease 3 s, renewed every second.
    return std::make_unique<Daemon>(store_section(db_->dsn(), spools_.back()->path()) +
                                    targets_section(engine, containers) + cluster_section(id));
  }
  std::unique_ptr<TestDatabase> db_;
  std::vector<std::unique_ptr<TempDir>> spools_;
};

TEST_F(ClusterOwnership, EveryTargetIsJudgedOnceAndTheSurvivorsTakeAKilledInstancesShareWithinLeasePlusTwoSeconds) {
  auto a = start("own-a"), b = start("own-b"), c = start("own-c");
  std::string why;
  std::optional<std::map<std::string, int>> split;
  ASSERT_TRUE(eventually([&] { return (split = owners({a.get(), b.get(), c.get()}, &why)).has_value(); }, 30s))
      << why << "\n" << a->log() << c->log();
  // Each gets a share (rendezvous over three: about 100 each), and it holds.
  std::array<int, 3> share{};
  for (const auto& [id, i] : *split) ++share[static_cast<std::size_t>(i)];
  for (int s : share) EXPECT_GT(s, target_count / 6) << share[0] << "/" << share[1] << "/" << share[2];
  std::this_thread::sleep_for(3s);
  auto again = owners({a.get(), b.get(), c.get()}, &why);
  ASSERT_TRUE(again) << why;
  EXPECT_EQ(*again, *split) << "ownership moves only when the members change";
  EXPECT_TRUE(restored_once({a.get(), b.get(), c.get()}, &why)) << why;
  // At rest the gauges agree with what each judges, and nothing is unowned.
  const std::array<const Daemon*, 3> all{a.get(), b.get(), c.get()};
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(metric_sum(*all[i], "healthsweep_cluster_targets_owned"), share[i]) << i;
    EXPECT_EQ(metric_sum(*all[i], "healthsweep_cluster_targets_peer_owned"), target_count - share[i]) << i;
    EXPECT_EQ(metric_sum(*all[i], "healthsweep_cluster_targets_unowned"), 0) << i;
  }
  const double taken_a = metric_sum(*a, "healthsweep_cluster_targets_taken_over_total");
  const double taken_b = metric_sum(*b, "healthsweep_cluster_targets_taken_over_total");
  const double handed_a = metric_sum(*a, "healthsweep_cluster_targets_handed_over_total");
  EXPECT_GE(taken_a, share[0]) << "its share when it joined";

  std::set<std::string> of_c;
  for (const auto& [id, i] : *split)
    if (i == 2) of_c.insert(id);
  c->process().signal(SIGKILL);
  c->process().wait_exit(5s);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return owners({a.get(), b.get()}, &why).has_value(); }, 15s)) << why << a->log();
  const auto took = std::chrono::steady_clock::now() - killed;
  EXPECT_LE(took, 3s + 2s) << "lease + 2 s";
  std::cout << "takeover after kill -9: " << std::chrono::duration<double>(took).count() << " s\n";
  auto after = owners({a.get(), b.get()}, &why);
  ASSERT_TRUE(after) << why;
  for (const auto& [id, i] : *after)
    if (!of_c.contains(id)) {
      EXPECT_EQ(i, (*split)[id]) << id << ": only the dead instance's targets move";
    }
  EXPECT_TRUE(eventually([&] { return restored_once({a.get(), b.get()}, &why); }, 5s)) << why;
  std::this_thread::sleep_for(1s);  // and not restored a second time
  EXPECT_TRUE(restored_once({a.get(), b.get()}, &why)) << why;
  EXPECT_NE(a->log().find("targets taken over"), std::string::npos) << a->log();
  // The metrics tell the same: the survivors own the fleet, took over
  // exactly the dead instance's share, and nothing is left unowned.
  EXPECT_EQ(metric_sum(*a, "healthsweep_cluster_targets_owned") + metric_sum(*b, "healthsweep_cluster_targets_owned"),
            target_count);
  EXPECT_EQ(metric_sum(*a, "healthsweep_cluster_targets_taken_over_total") - taken_a +
                metric_sum(*b, "healthsweep_cluster_targets_taken_over_total") - taken_b,
            static_cast<double>(of_c.size()));
  EXPECT_EQ(metric_sum(*a, "healthsweep_cluster_targets_unowned"), 0);
  EXPECT_EQ(metric_sum(*b, "healthsweep_cluster_targets_unowned"), 0);
  EXPECT_EQ(metric_sum(*a, "healthsweep_cluster_targets_handed_over_total"), handed_a) << "nothing moved away";

  // Fencing: t-0's events (its first owner's, and its new owner's if c had
  // it) each name a live lease and none is fenced; its row names the owner.
  const std::array<const char*, 3> ids{"own-a", "own-b", "own-c"};
  const auto t0_owner = std::string(ids[static_cast<std::size_t>((*after)["t-0"])]);
  PgSession pg(db_->dsn());
  ASSERT_TRUE(eventually(
      [&] { return pg.query("SELECT instance FROM healthsweep_targets WHERE id = 't-0'").at(0).at(0) == t0_owner; },
      10s))
      << pg.query("SELECT instance, state FROM healthsweep_targets WHERE id = 't-0'").at(0).at(0);
  const auto events = pg.query(
      "SELECT detail->>'instance', (detail->>'epoch')::bigint > 0, coalesce(detail->>'fenced', 'no') "
      "FROM healthsweep_events WHERE target = 't-0' ORDER BY id");
  ASSERT_FALSE(events.empty());
  for (const auto& e : events) {
    EXPECT_TRUE(e.at(0) == "own-a" || e.at(0) == "own-b" || e.at(0) == "own-c") << e.at(0);
    EXPECT_EQ(e.at(1), "t");
    EXPECT_EQ(e.at(2), "no");
  }
  EXPECT_EQ(events.back().at(0), t0_owner);
}

TEST_F(ClusterOwnership, ACleanStopHandsItsTargetsOverAtOnceAndARestartedInstanceGetsItsShareBack) {
  auto a = start("own-a"), b = start("own-b");
  std::string why;
  std::optional<std::map<std::string, int>> split;
  ASSERT_TRUE(eventually([&] { return (split = owners({a.get(), b.get()}, &why)).has_value(); }, 30s)) << why;
  b->process().signal(SIGTERM);
  ASSERT_TRUE(b->process().wait_exit(15s)) << b->log();
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return judged(*a).size() == static_cast<std::size_t>(target_count); }, 10s))
      << a->log();
  EXPECT_LE(std::chrono::steady_clock::now() - stopped, 2500ms)
      << "the lease was given back: no waiting for it to expire";
  b.reset();
  b = start("own-b");
  // While it waits to become an owner, its own share (not the whole fleet,
  // as before its first read of the members) is judged by nobody, and its
  // unowned gauge says so.
  double waiting = 0;
  EXPECT_TRUE(eventually(
      [&] {
        waiting = metric_sum(*b, "healthsweep_cluster_targets_unowned");
        return waiting > 0 && waiting < target_count;
      },
      10s))
      << waiting << b->log();
  // Back to the same split: rendezvous depends only on the member list.
  ASSERT_TRUE(eventually(
      [&] {
        auto now = owners({a.get(), b.get()}, &why);
        return now && *now == *split;
      },
      20s))
      << why << b->log();
  EXPECT_TRUE(eventually([&] { return restored_once({a.get(), b.get()}, &why); }, 5s)) << why;
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(restored_once({a.get(), b.get()}, &why)) << why;
  EXPECT_EQ(metric_sum(*b, "healthsweep_cluster_targets_unowned"), 0);
}

// Two engines as two hosts (a Podman service and a Docker service, both
// real): the daemon on Podman judges exactly Podman's containers; the two
// daemons on Docker split Docker's between them (locality: the members on
// the engine the container was seen on), none judged twice.
TEST_F(ClusterOwnership, EachDaemonJudgesOnlyTheContainersOfItsOwnEngineAndTwoOnOneEngineSplitThem) {
  HS_REQUIRE_ENGINE(pod, EngineKind::podman);
  HS_REQUIRE_ENGINE(dock, EngineKind::docker);
  std::set<std::string> pods, docks;
  for (int n = 0; n < 3; ++n) {
    pod.run(pod.name("c" + std::to_string(n)), "pod-" + std::to_string(n));
    pods.insert("pod-" + std::to_string(n));
  }
  for (int n = 0; n < 8; ++n) {
    dock.run(dock.name("c" + std::to_string(n)), "dock-" + std::to_string(n));
    docks.insert("dock-" + std::to_string(n));
  }
  const auto on = [&](const Engine& e, const std::string& id) {
    spools_.push_back(std::make_unique<TempDir>());
    return std::make_unique<Daemon>(
        store_section(db_->dsn(), spools_.back()->path()) + "engine:\n  socket: \"" + e.socket() +
        "\"\ntargets:\n  engine_label: \"" + e.label() +
        "\"\nsweeps:\n  proactive: { interval: 1s }\nremediation:\n  restart: { via: none }\n" + cluster_section(id));
  };
  auto p = on(pod, "host-pod"), d1 = on(dock, "host-dock-1"), d2 = on(dock, "host-dock-2");
  const auto keys = [](const Daemon& d) {
    std::set<std::string> out;
    for (const auto& [id, t] : judged(d)) out.insert(id);
    return out;
  };
  std::string why;
  ASSERT_TRUE(eventually(
      [&] {
        const auto a = keys(*d1), b = keys(*d2);
        std::set<std::string> both(a.begin(), a.end());
        both.insert(b.begin(), b.end());
        why = "podman: " + std::to_string(keys(*p).size()) + ", docker: " + std::to_string(a.size()) + " + " +
              std::to_string(b.size());
        return keys(*p) == pods && both == docks && a.size() + b.size() == docks.size();
      },
      40s))
      << why << "\n" << p->log() << d1->log();
  EXPECT_FALSE(keys(*d1).empty()) << "two daemons on one engine split its containers";
  EXPECT_FALSE(keys(*d2).empty());
  // The members' engines, as the Podman daemon read them.
  const auto view = boost::json::parse(p->get("/admin/cluster").body).as_object();
  std::map<std::string, std::string> engine_of;
  for (const auto& m : view.at("members").as_array())
    engine_of[std::string(m.at("instance_id").as_string())] = std::string(m.at("engine").as_string());
  EXPECT_EQ(engine_of["host-dock-1"], engine_of["host-dock-2"]);
  EXPECT_NE(engine_of["host-pod"], engine_of["host-dock-1"]);
  EXPECT_FALSE(engine_of["host-pod"].empty());
}

}  // namespace

namespace {

constexpr int container_count = 6;

// Every target judged exactly once, and each target with a container judged
// online (a running container, seen by its owner's sweep).
bool settled(const std::vector<const Daemon*>& daemons, std::string* why) {
  if (!owners(daemons, why)) return false;
  for (int n = 0; n < container_count; ++n) {
    const std::string id = "t-" + std::to_string(n);
    const Daemon* judge = judge_of(daemons, id);
    if (!judge || state_of(*judge, id) != "online") {
      *why = id + " is " + (judge ? state_of(*judge, id) : std::string("judged by nobody"));
      return false;
    }
  }
  return true;
}

std::int64_t count(const std::string& dsn, const std::string& sql) {
  return std::stoll(PgSession(dsn).query(sql).at(0).at(0));
}

}  // namespace

// A target whose container dies while its owner is dead, before the survivors
// have taken it over: the new owner sees it exited (its own proactive check,
// no verdict from a lack of observations) and restarts it exactly once, as
// the container itself counts; the healthy containers moved with it are
// not started at all.
TEST_F(ClusterOwnership, AContainerThatDiesDuringATakeoverIsRestartedExactlyOnceByTheNewOwner) {
  HS_REQUIRE_ENGINE(pod, EngineKind::podman);
  CountedStarts starts;
  for (int n = 0; n < container_count; ++n) starts.run(pod, n);
  PgSession(db_->dsn()).query("DELETE FROM healthsweep_targets");  // no restart history to restore
  std::array<std::unique_ptr<Daemon>, 3> ds{start("own-a", &pod, container_count),
                                            start("own-b", &pod, container_count),
                                            start("own-c", &pod, container_count)};
  const std::vector<const Daemon*> all{ds[0].get(), ds[1].get(), ds[2].get()};
  std::string why;
  ASSERT_TRUE(eventually([&] { return settled(all, &why); }, 30s)) << why << "\n" << ds[0]->log();

  const std::string id = "t-0", container = container_of(pod, 0);
  const Daemon* owner = judge_of(all, id);
  ASSERT_NE(owner, nullptr);
  Daemon& victim = *std::find_if(ds.begin(), ds.end(), [&](const auto& d) { return d.get() == owner; })->get();
  std::vector<const Daemon*> survivors;
  for (const auto& d : ds)
    if (d.get() != owner) survivors.push_back(d.get());
  for (int n = 0; n < container_count; ++n) ASSERT_EQ(starts.of(n), 1) << container_of(pod, n) << ": its first run";
  victim.process().signal(SIGKILL);
  ASSERT_TRUE(victim.process().wait_exit(5s));
  const auto killed = std::chrono::steady_clock::now();
  pod.kill(container);
  ASSERT_EQ(judge_of(survivors, id), nullptr)
      << "the container must die before the survivors take its target over (lease 3 s)";

  const Daemon* heir = nullptr;
  ASSERT_TRUE(eventually(
      [&] {
        heir = judge_of(survivors, id);
        const auto t = heir ? target(*heir, id) : std::nullopt;
        return t && t->restarts == 1 && t->state == "online";
      },
      25s))
      << (heir ? heir->log() : survivors[0]->log());
  std::cout << "taken over, detected and restarted " << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count()
            << " s after the kill\n";
  std::this_thread::sleep_for(3s);  // past the backoff and three sweeps: a second restart would be out
  EXPECT_EQ(starts.of(0), 2) << "its first run and one restart\n" << heir->log();
  EXPECT_EQ(target(*heir, id)->restarts, 1);
  EXPECT_EQ(pod.status(container), "running");
  for (const Daemon* d : survivors)
    EXPECT_EQ(metric(*d, "healthsweep_remediations_total{action=\"restart\",result=\"ok\"}"), d == heir ? 1 : 0);
  EXPECT_EQ(count(db_->dsn(), "SELECT count(*) FROM healthsweep_events WHERE to_state = 'restarting'"), 1);
  for (int n = 1; n < container_count; ++n)
    EXPECT_EQ(starts.of(n), 1) << "a healthy container moved: not restarted";
}

// SIGTERM one instance, start it again, wait until it judges its share again,
// then the next: every target stays judged by one instance at a time, and no
// healthy target is restarted (no engine start, no restart or offline event).
TEST_F(ClusterOwnership, ARollingRestartOfAllThreeRestartsNoHealthyTarget) {
  HS_REQUIRE_ENGINE(pod, EngineKind::podman);
  CountedStarts starts;
  for (int n = 0; n < container_count; ++n) starts.run(pod, n);
  PgSession(db_->dsn()).query("DELETE FROM healthsweep_targets");
  const std::array<std::string, 3> ids{"own-a", "own-b", "own-c"};
  std::array<std::unique_ptr<Daemon>, 3> ds;
  for (std::size_t i = 0; i < ds.size(); ++i) ds[i] = start(ids[i], &pod, container_count);
  const auto all = [&] { return std::vector<const Daemon*>{ds[0].get(), ds[1].get(), ds[2].get()}; };
  std::string why;
  ASSERT_TRUE(eventually([&] { return settled(all(), &why); }, 30s)) << why << "\n" << ds[0]->log();
  const auto split = owners(all(), &why);
  ASSERT_TRUE(split) << why;
  std::array<int, 3> containers_of{};
  for (int n = 0; n < container_count; ++n) ++containers_of[static_cast<std::size_t>(split->at("t-" + std::to_string(n)))];
  for (int k : containers_of) EXPECT_GT(k, 0) << "every restart moves a container's target (rendezvous of these ids)";

  for (std::size_t i = 0; i < ds.size(); ++i) {
    ds[i]->process().signal(SIGTERM);
    ASSERT_TRUE(ds[i]->process().wait_exit(15s)) << ds[i]->log();
    ds[i].reset();
    ds[i] = start(ids[i], &pod, container_count);
    // Back to the same split (rendezvous depends only on the member list),
    // every container online where it is judged.
    ASSERT_TRUE(eventually(
        [&] {
          const auto now = owners(all(), &why);
          return now && *now == *split && settled(all(), &why);
        },
        20s))
        << ids[i] << " restarted: " << why << "\n" << ds[i]->log();
  }
  std::this_thread::sleep_for(2s);  // past the settle delay: a restart ordered would be out
  for (int n = 0; n < container_count; ++n)
    EXPECT_EQ(starts.of(n), 1) << container_of(pod, n) << ": started again";
  EXPECT_EQ(count(db_->dsn(), "SELECT count(*) FROM healthsweep_events WHERE to_state IN ('offline', 'restarting')"),
            0)
      << PgSession(db_->dsn()).query("SELECT string_agg(target || ' ' || from_state || '->' || to_state, ', ') FROM "
                                     "healthsweep_events").at(0).at(0);
  for (const auto& d : ds) EXPECT_EQ(metric(*d, "healthsweep_remediations_total{action=\"restart\",result=\"ok\"}"), 0);
}
