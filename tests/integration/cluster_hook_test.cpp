// Issue 14, the hook on any instance and ?scope=fleet: three daemons over one
// PostgreSQL share static targets. A report sent to an instance that does not
// own its target is forwarded to the owner (with the caller's bearer token)
// and checked there exactly once; a wrong token is refused before any
// forwarding; a forwarded report never travels on; with the owner killed, the
// report is answered naming the owner and not acted on by anyone. Every
// instance lists the whole fleet from PostgreSQL. Real PostgreSQL
// (HS_TEST_PG_DSN), a database of the test's own, real daemons.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "tests/integration/cluster_support.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int target_count = 12;
const std::string token = "hook-token";

std::string report(const std::string& id) {
  return R"({"target":")" + id + R"(","error":"connect ECONNREFUSED","source":"a2a-proxy"})";
}

class ClusterHook : public ::testing::Test {
 protected:
  void SetUp() override {
    HS_REQUIRE_PG_DSN();
    db_ = cluster_database("hooks");
    ASSERT_FALSE(HasFailure()) << "the schema was not applied";
    token_file_ = files_.write("token", token + "\n");
  }
  // The targets are alive (a loopback port that accepts), polled every
  // second (a taken-over target is unknown until its owner's next sweep); a
  // reactive check of one counts as a false alarm, where it ran.
  std::unique_ptr<Daemon> start(const std::string& id) {
    spools_.push_back(std::make_unique<TempDir>());
    std::string targets = "targets:\n  static:\n";
    for (int n = 0; n < target_count; ++n)
      targets += "    - { id: h-" + std::to_string(n) + ", tcp: \"127.0.0.1:" + std::to_string(alive_.port()) + "\" }\n";
    return std::make_unique<Daemon>(store_section(db_->dsn(), spools_.back()->path()) + "auth: { token_file: \"" +
                                    token_file_ + "\" }\n" + targets +
                                    "sweeps:\n  proactive: { interval: 1s, timeout: 2s }\n"
                                    "  reactive: { coalesce_window: 30s }\n"
                                    "cluster:\n  instance_id: " + id +
                                    "\n  lease: 3s\n  renew_every: 1s\nliveness: { stale_after: 2h }\n");
  }
  // Who judges each target, once every target is judged by exactly one.
  std::optional<std::map<std::string, const Daemon*>> split(const std::vector<const Daemon*>& daemons) {
    std::map<std::string, const Daemon*> owner;
    for (const Daemon* d : daemons)
      for (const auto& [id, restarts] : judged(*d))
        if (!owner.emplace(id, d).second) return std::nullopt;
    if (owner.size() != static_cast<std::size_t>(target_count)) return std::nullopt;
    return owner;
  }
  static double checks(const Daemon& d) {  // reactive checks of healthy targets
    return metric(d, "healthsweep_reactive_false_alarms_total");
  }

  TcpListener alive_;
  TempDir files_;
  std::string token_file_;
  std::unique_ptr<TestDatabase> db_;
  std::vector<std::unique_ptr<TempDir>> spools_;
};

TEST_F(ClusterHook, AReportSentToANonOwnerIsCheckedExactlyOnceByTheOwner) {
  auto a = start("hook-a"), b = start("hook-b"), c = start("hook-c");
  std::optional<std::map<std::string, const Daemon*>> owner;
  ASSERT_TRUE(eventually([&] { return (owner = split({a.get(), b.get(), c.get()})).has_value(); }, 30s))
      << a->log() << b->log();
  // A target b owns, reported to a and to c.
  std::string victim;
  for (const auto& [id, d] : *owner)
    if (d == b.get()) victim = id;
  ASSERT_FALSE(victim.empty()) << "rendezvous over three gives each a share";
  ASSERT_TRUE(eventually([&] { return state_of(*b, victim) == "online"; }, 15s)) << b->log();

  EXPECT_EQ(a->post("/hooks/connection-error", report(victim), "wrong").status, 401)
      << "a wrong token is refused where it arrives, never forwarded";
  EXPECT_EQ(a->post("/hooks/connection-error", report("nobody-names-it"), token).status, 404);

  const auto first = a->post("/hooks/connection-error", report(victim), token);
  EXPECT_EQ(first.status, 202) << first.body << a->log();
  EXPECT_EQ(first.body, R"({"accepted":true,"coalesced":false})") << "the owner's answer, relayed";
  EXPECT_EQ(first.headers.count("x-healthsweep-owner") ? first.headers.at("x-healthsweep-owner") : "", "hook-b");
  const auto second = c->post("/hooks/connection-error", report(victim), token);
  EXPECT_EQ(second.status, 202) << second.body;
  EXPECT_EQ(second.body, R"({"accepted":true,"coalesced":true})") << "coalesced by the owner, per target";
  const auto direct = b->post("/hooks/connection-error", report(victim), token);
  EXPECT_EQ(direct.body, R"({"accepted":true,"coalesced":true})");

  ASSERT_TRUE(eventually([&] { return checks(*b) == 1; }, 10s)) << b->log();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(checks(*b), 1) << "checked once, by the owner";
  EXPECT_EQ(checks(*a), 0) << "never checked by the instance it reached";
  EXPECT_EQ(checks(*c), 0);
  const auto seen = target(*b, victim);
  ASSERT_TRUE(seen);
  EXPECT_NE(seen->body.find("\"reactive\":\"alive"), std::string::npos) << seen->body;

  // Forwarded already (as a peer would send it) to an instance that does not
  // own it: not sent on, answered with the owner.
  const auto hop = http_request(a->port(), "POST", "/hooks/connection-error", report(victim),
                                {{"Content-Type", "application/json"},
                                 {"Authorization", "Bearer " + token},
                                 {"X-Healthsweep-Forwarded-By", "hook-c"}});
  EXPECT_EQ(hop.status, 421) << hop.body;
  const auto named = boost::json::parse(hop.body);
  EXPECT_EQ(named.at("owner").as_string(), "hook-b");
  EXPECT_EQ(named.at("advertise").as_string(), "http://127.0.0.1:" + std::to_string(b->port()));
  EXPECT_EQ(checks(*a), 0);
  // Every answer on the hook path is counted where it was given.
  EXPECT_EQ(metric(*a, "healthsweep_hook_requests_total{code=\"202\"}"), 1);
  EXPECT_EQ(metric(*a, "healthsweep_hook_requests_total{code=\"421\"}"), 1);
  EXPECT_EQ(metric(*b, "healthsweep_hook_requests_total{code=\"202\"}"), 3) << "two forwarded, one direct";
}

TEST_F(ClusterHook, WithTheOwnerKilledTheReportIsAnsweredNamingItAndNotActedOn) {
  auto a = start("hook-a"), b = start("hook-b");
  std::optional<std::map<std::string, const Daemon*>> owner;
  ASSERT_TRUE(eventually([&] { return (owner = split({a.get(), b.get()})).has_value(); }, 30s)) << a->log();
  std::string victim;
  for (const auto& [id, d] : *owner)
    if (d == b.get()) victim = id;
  ASSERT_FALSE(victim.empty());
  const auto b_url = "http://127.0.0.1:" + std::to_string(b->port());
  b->process().signal(SIGKILL);
  b->process().wait_exit(5s);

  // Within b's lease (3 s) a still counts b as the owner: the report is
  // answered at once, naming b, and nobody checks it.
  const auto started = std::chrono::steady_clock::now();
  const auto res = a->post("/hooks/connection-error", report(victim), token);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms) << "bounded by the forward's timeout";
  EXPECT_EQ(res.status, 503) << res.body;
  EXPECT_EQ(res.headers.count("retry-after") ? res.headers.at("retry-after") : "", "4") << "lease + renew_every";
  const auto body = boost::json::parse(res.body);
  EXPECT_EQ(body.at("owner").as_string(), "hook-b");
  EXPECT_EQ(body.at("advertise").as_string(), b_url);
  EXPECT_EQ(checks(*a), 0) << "not acted on locally";

  // After the takeover a judges it, and the same report is checked there.
  ASSERT_TRUE(eventually([&] { return judged(*a).size() == static_cast<std::size_t>(target_count); }, 10s))
      << a->log();
  EXPECT_EQ(a->post("/hooks/connection-error", report(victim), token).status, 202);
  EXPECT_TRUE(eventually([&] { return checks(*a) == 1; }, 10s)) << a->log();
}

TEST_F(ClusterHook, EveryInstanceListsTheWholeFleetFromPostgres) {
  auto a = start("hook-a"), b = start("hook-b");
  std::optional<std::map<std::string, const Daemon*>> owner;
  ASSERT_TRUE(eventually([&] { return (owner = split({a.get(), b.get()})).has_value(); }, 30s)) << a->log();
  const auto name_of = [&](const Daemon* d) { return std::string(d == a.get() ? "hook-a" : "hook-b"); };
  // Each target's row is written by its owner (its first transition), with
  // the lease it was judged under (fencing).
  ASSERT_TRUE(eventually(
      [&] {
        return PgSession(db_->dsn()).query("SELECT count(*) FROM healthsweep_targets WHERE state = 'online'").at(0).at(0) ==
               std::to_string(target_count);
      },
      20s))
      << a->log();
  for (const Daemon* d : {a.get(), b.get()}) {
    const auto local = judged(*d);
    EXPECT_LT(local.size(), static_cast<std::size_t>(target_count)) << "the local list has this instance's share";
    const auto r = d->get("/admin/targets?scope=fleet");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto doc = boost::json::parse(r.body);
    std::set<std::string> ids;
    for (const auto& t : doc.as_array()) {
      ids.insert(std::string(t.at("id").as_string()));
      EXPECT_EQ(t.at("state").as_string(), "online");
      EXPECT_TRUE(t.as_object().contains("since"));
      EXPECT_EQ(t.at("restarts").as_int64(), 0);
      EXPECT_FALSE(t.at("quarantined").as_bool());
      // The row's writer: the instance that judges the target.
      const std::string id(t.at("id").as_string());
      ASSERT_TRUE(t.at("owner").is_string()) << r.body;
      EXPECT_EQ(t.at("owner").as_string(), name_of(owner->at(id))) << id;
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(target_count)) << r.body;
    // Local target objects name their owner: this instance.
    const auto mine = d->get("/admin/targets");
    const auto local_doc = boost::json::parse(mine.body);
    for (const auto& t : local_doc.as_array()) EXPECT_EQ(t.at("owner").as_string(), name_of(d));
  }
  // Pages, as the local list: ?limit and the Link header's next page.
  std::set<std::string> paged;
  std::string next = "/admin/targets?scope=fleet&limit=5";
  int pages = 0;
  while (!next.empty() && pages < 10) {
    const auto r = b->get(next);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto doc = boost::json::parse(r.body);
    EXPECT_LE(doc.as_array().size(), 5u);
    for (const auto& t : doc.as_array()) paged.insert(std::string(t.at("id").as_string()));
    ++pages;
    next.clear();
    if (r.headers.count("link")) {
      const auto& link = r.headers.at("link");
      next = link.substr(link.find('<') + 1, link.find('>') - link.find('<') - 1);
    }
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged.size(), static_cast<std::size_t>(target_count));
  const auto offline = a->get("/admin/targets?scope=fleet&state=offline");
  EXPECT_EQ(offline.status, 200);
  EXPECT_EQ(offline.body, "[]");
}

}  // namespace
