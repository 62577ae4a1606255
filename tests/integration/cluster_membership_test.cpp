// Issue 14, the first part: instances hold leases in PostgreSQL (one row
// each, a new epoch at every acquisition), see each other at /admin/cluster,
// give the lease back on a clean stop, lose it when killed, refuse a second
// process with a live instance id, and fence themselves when cut off from
// PostgreSQL before any peer can see their lease expire. Real PostgreSQL
// (HS_TEST_PG_DSN), a database of the test's own, real daemons.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <csignal>
#include <regex>
#include <thread>

#include "tests/integration/cluster_support.hpp"
#include "tests/integration/faults_support.hpp"
#include "tests/integration/target_json.hpp"
#include "tests/support/delay_proxy.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string cluster_config(const std::string& dsn, const std::string& spool, const std::string& id) {
  return store_section(dsn, spool) + cluster_section(id);
}

boost::json::object cluster_view(const Daemon& d) {
  const auto r = d.get("/admin/cluster");
  if (r.status != 200) return {};
  return boost::json::parse(r.body).as_object();
}

// The member `id` as `d` last read it; null when it is not listed.
boost::json::value member(const Daemon& d, const std::string& id) {
  const auto view = cluster_view(d);
  if (!view.contains("members")) return nullptr;
  for (const auto& m : view.at("members").as_array())
    if (m.at("instance_id").as_string() == id) return m;
  return nullptr;
}

bool sees_live(const Daemon& d, const std::string& id) {
  const auto m = member(d, id);
  return m.is_object() && m.at("live").as_bool();
}

std::int64_t epoch_of(const Daemon& d) {
  const auto view = cluster_view(d);
  return view.contains("epoch") ? view.at("epoch").to_number<std::int64_t>() : 0;
}

int rows_of(const TestDatabase& db, const std::string& id) {
  return std::stoi(PgSession(db.dsn())
                       .query("SELECT count(*) FROM healthsweep_members WHERE instance_id = '" + id + "'")
                       .at(0)
                       .at(0));
}

class ClusterMembership : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dsn = std::getenv("HS_TEST_PG_DSN");
    if (!dsn || !*dsn) {
      if (in_ci()) GTEST_FAIL() << "HS_TEST_PG_DSN is not set: scripts/test could not start PostgreSQL (CI=true)";
      GTEST_SKIP() << "SKIPPED LOUDLY: HS_TEST_PG_DSN is not set; run through scripts/test";
    }
    server_dsn_ = dsn;
    db_ = std::make_unique<TestDatabase>(server_dsn_, "cluster");
  }
  std::string config(const std::string& id, const std::string& dsn = {}) {
    spools_.push_back(std::make_unique<TempDir>());
    return cluster_config(dsn.empty() ? db_->dsn() : dsn, spools_.back()->path(), id);
  }
  std::string server_dsn_;
  std::unique_ptr<TestDatabase> db_;
  std::vector<std::unique_ptr<TempDir>> spools_;
};

TEST_F(ClusterMembership, TwoInstancesSeeEachOtherWithEpochsOfTheirOwnAndACleanStopGivesTheLeaseBack) {
  Daemon a(config("inst-a"));
  auto b = std::make_unique<Daemon>(config("inst-b"));
  ASSERT_TRUE(eventually([&] { return sees_live(a, "inst-b") && sees_live(*b, "inst-a"); }, 15s))
      << a.log() << b->log();
  const auto ea = epoch_of(a), eb = epoch_of(*b);
  EXPECT_GT(ea, 0);
  EXPECT_GT(eb, 0);
  EXPECT_NE(ea, eb) << "every acquisition draws its own epoch";
  EXPECT_EQ(member(a, "inst-b").at("epoch").to_number<std::int64_t>(), eb);
  const auto view = cluster_view(a);
  EXPECT_EQ(view.at("instance_id").as_string(), "inst-a");
  EXPECT_TRUE(view.at("lease_held").as_bool());
  EXPECT_EQ(view.at("live_members").to_number<int>(), 2);
  EXPECT_EQ(view.at("advertise").as_string(), "http://127.0.0.1:" + std::to_string(a.port()))
      << "advertise defaults to the listener's address";
  EXPECT_EQ(metric(a, "healthsweep_cluster_members"), 2);
  EXPECT_EQ(metric(a, "healthsweep_cluster_lease_held"), 1);
  EXPECT_EQ(metric(a, "healthsweep_cluster_epoch"), static_cast<double>(ea));
  EXPECT_EQ(metric(a, "healthsweep_failsafe_active"), 0) << "holding its lease, it may remediate";
  const auto live = a.get("/admin/liveness");
  EXPECT_NE(live.body.find("\"cluster\":{\"status\":\"ok\""), std::string::npos) << live.body;

  b->process().signal(SIGTERM);
  ASSERT_TRUE(b->process().wait_exit(15s)) << b->log();
  EXPECT_NE(b->log().find("given back"), std::string::npos) << b->log();
  EXPECT_EQ(rows_of(*db_, "inst-b"), 0) << "a clean stop deletes its lease: peers need not wait for it to expire";
  EXPECT_TRUE(eventually([&] { return member(a, "inst-b").is_null(); }, 5s)) << a.log();
  EXPECT_EQ(metric(a, "healthsweep_cluster_members"), 1);
}

TEST_F(ClusterMembership, AKilledInstanceExpiresAfterItsLeaseAndComesBackWithANewEpoch) {
  Daemon a(config("inst-a"));
  auto b = std::make_unique<Daemon>(config("inst-b"));
  ASSERT_TRUE(eventually([&] { return sees_live(a, "inst-b") && epoch_of(*b) > 0; }, 15s)) << b->log();
  const auto first = epoch_of(*b);
  b->process().signal(SIGKILL);
  b->process().wait_exit(5s);
  const auto killed = std::chrono::steady_clock::now();
  EXPECT_EQ(rows_of(*db_, "inst-b"), 1) << "a killed instance leaves its lease to expire";
  ASSERT_TRUE(eventually([&] { return !sees_live(a, "inst-b"); }, 10s)) << a.log();
  EXPECT_GE(std::chrono::steady_clock::now() - killed, 1500ms) << "seen dead before its lease could expire";
  b.reset();
  Daemon again(config("inst-b"));
  ASSERT_TRUE(eventually([&] { return epoch_of(again) > 0; }, 10s)) << again.log();
  EXPECT_GT(epoch_of(again), first) << "a new acquisition, a newer epoch";
  EXPECT_TRUE(eventually([&] { return sees_live(a, "inst-b"); }, 5s));
}

TEST_F(ClusterMembership, ASecondProcessWithALiveInstanceIdGetsNoLease) {
  Daemon a(config("inst-a"));
  ASSERT_TRUE(eventually([&] { return epoch_of(a) > 0; }, 15s)) << a.log();
  Daemon twin(config("inst-a"));
  ASSERT_TRUE(eventually([&] { return twin.log().find("holds a live lease already") != std::string::npos; }, 10s))
      << twin.log();
  EXPECT_EQ(epoch_of(twin), 0);
  EXPECT_EQ(metric(twin, "healthsweep_cluster_lease_held"), 0);
  EXPECT_GE(metric(twin, "healthsweep_cluster_lease_renew_failures_total"), 1);
  EXPECT_GT(epoch_of(a), 0) << "the holder keeps its lease";
}

TEST_F(ClusterMembership, CutOffFromPostgresItFencesItselfBeforeItsPeerSeesItsLeaseExpire) {
  const std::regex port_re("port=([0-9]+)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(server_dsn_, m, port_re)) << server_dsn_;
  DelayProxy proxy("127.0.0.1", std::stoi(m[1]));
  std::string proxied = std::regex_replace(db_->dsn(), port_re, "port=" + std::to_string(proxy.port()));
  Daemon a(config("inst-a"));
  Daemon b(config("inst-b", proxied));
  ASSERT_TRUE(eventually([&] { return sees_live(a, "inst-b") && metric(b, "healthsweep_cluster_lease_held") == 1; },
                         15s)) << b.log();
  const auto first = epoch_of(b);
  proxy.set_delay(60s);  // b's statements reach PostgreSQL a minute late: cut off
  std::optional<std::chrono::steady_clock::time_point> fenced, expired;
  const auto cut = std::chrono::steady_clock::now();
  while ((!fenced || !expired) && std::chrono::steady_clock::now() - cut < 15s) {
    const auto now = std::chrono::steady_clock::now();
    if (!fenced && metric(b, "healthsweep_cluster_lease_held") == 0) fenced = now;
    if (!expired && !sees_live(a, "inst-b")) expired = now;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(fenced) << b.log();
  ASSERT_TRUE(expired) << a.log();
  EXPECT_LT(*fenced, *expired) << "the peer saw the lease expire before the cut-off instance stopped acting";
  EXPECT_GE(metric(b, "healthsweep_cluster_leases_lost_total"), 1);
  EXPECT_GE(metric(b, "healthsweep_cluster_lease_renew_failures_total"), 1);
  EXPECT_NE(b.log().find("not renewed within the renew deadline"), std::string::npos) << b.log();
  EXPECT_EQ(metric(b, "healthsweep_failsafe_active"), 1) << "fenced: remediation paused";
  EXPECT_NE(b.log().find("evidence source cluster lease unhealthy"), std::string::npos) << b.log();

  proxy.set_delay(0ms);  // reachable again: a new lease, a newer epoch
  EXPECT_TRUE(eventually([&] { return epoch_of(b) > first; }, 20s)) << b.log();
  EXPECT_TRUE(eventually([&] { return metric(b, "healthsweep_failsafe_active") == 0; }, 5s)) << b.log();
  EXPECT_TRUE(eventually([&] { return sees_live(a, "inst-b"); }, 5s));
}

TEST(ClusterAlone, WithoutTheSectionAdminClusterIs404) {
  Daemon d("");
  const auto r = d.get("/admin/cluster");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("runs alone"), std::string::npos) << r.body;
  EXPECT_EQ(metric(d, "healthsweep_cluster_lease_held"), 0);
  const auto live = d.get("/admin/liveness");
  EXPECT_NE(live.body.find("\"cluster\":{\"status\":\"disabled\""), std::string::npos) << live.body;
}

}  // namespace
