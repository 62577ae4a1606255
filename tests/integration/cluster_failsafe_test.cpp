// Issue 14, the fleet-wide fail-safe: two daemons over one PostgreSQL split
// 24 static TCP targets (listeners of the test's own on 127.0.0.1); most of
// one instance's targets die together with a few of the other's, a share
// below max_offline_fraction there. Neither remediates anything while the
// fleet as a whole is beyond the fraction: the instance with few failures
// of its own holds them on the counts its peer published. When the peer's
// targets come back, the held ones are remediated, each exactly once.
// Real PostgreSQL (HS_TEST_PG_DSN), a database of the test's own, real
// daemons, a real webhook receiver (tools/status_server.py).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/cluster_support.hpp"
#include "tests/integration/faults_support.hpp"
#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

constexpr int target_count = 24;
constexpr double max_fraction = 0.3;

// Webhook calls per target, from the bodies the receiver recorded.
std::map<std::string, int> webhook_calls(const StatusServer& hook) {
  std::map<std::string, int> calls;
  std::istringstream lines(hook.posts());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto body = boost::json::parse(line);
    ++calls[std::string(body.at("target").as_string())];
  }
  return calls;
}

std::size_t webhook_total(const StatusServer& hook) {
  std::size_t n = 0;
  for (const auto& [id, calls] : webhook_calls(hook)) n += static_cast<std::size_t>(calls);
  return n;
}

double suppressed_webhooks(const Daemon& d) {
  return metric(d, "healthsweep_remediations_total{action=\"webhook\",result=\"suppressed\"}");
}

class ClusterFailSafe : public ::testing::Test {
 protected:
  void SetUp() override {
    HS_REQUIRE_ENV(server, "HS_TEST_PG_DSN");
    db_ = std::make_unique<TestDatabase>(server, "fleetfs");
    ASSERT_NE(hook_.port, 0) << hook_.process.log();
    for (int n = 0; n < target_count; ++n)
      listeners_.emplace("w-" + std::to_string(n), std::make_unique<TcpListener>());
  }

  // Checked over TCP every 200 ms (offline after two failures); remediated
  // through the webhook 3 s after going offline (settle: more than the
  // 2 x renew_every a peer's count may take to arrive), each at most once
  // here (startup_grace outlasts the test).
  std::unique_ptr<Daemon> start(const std::string& id) {
    spools_.push_back(std::make_unique<TempDir>());
    std::string yaml = store_section(db_->dsn(), spools_.back()->path()) + "targets:\n  static:\n";
    for (const auto& [target, listener] : listeners_)
      yaml += "    - { id: " + target + ", tcp: \"127.0.0.1:" + std::to_string(listener->port()) + "\" }\n";
    yaml += "sweeps:\n  proactive: { interval: 200ms, timeout: 1s, jitter: 0, failure_threshold: 2 }\n"
            "remediation:\n  restart:\n    via: webhook\n    webhook_url: \"" + hook_.url("/remediate") +
            "\"\n    settle: 3s\n    startup_grace: 5m\n"
            "  fail_safe: { max_offline_fraction: 0.3, min_targets: 4, window: 1m }\n" + cluster_section(id);
    return std::make_unique<Daemon>(yaml);
  }

  std::unique_ptr<TestDatabase> db_;
  StatusServer hook_{200};
  std::map<std::string, std::unique_ptr<TcpListener>> listeners_;
  std::vector<std::unique_ptr<TempDir>> spools_;
};

TEST_F(ClusterFailSafe, AFewDeadTargetsHereAreHeldWhileThePeersAreDownBeyondTheFractionAndRemediatedWhenTheyRecover) {
  auto a = start("fs-a"), b = start("fs-b");
  std::string why;
  std::optional<std::map<std::string, int>> split;
  // Every target judged by one of them, online, and both holding their lease.
  ASSERT_TRUE(eventually(
      [&] {
        split = owners({a.get(), b.get()}, target_count, &why);
        if (!split) return false;
        for (const Daemon* d : {a.get(), b.get()})
          for (const auto& [id, t] : judged(*d))
            if (t.state != "online") {
              why = id + " is " + t.state;
              return false;
            }
        return metric(*a, "healthsweep_failsafe_active") == 0 && metric(*b, "healthsweep_failsafe_active") == 0;
      },
      20s))
      << why << "\n" << a->log() << b->log();
  std::vector<std::string> of_a, of_b;
  for (const auto& [id, i] : *split) (i == 0 ? of_a : of_b).push_back(id);
  // Rendezvous over two fixed ids: the same split every run.
  ASSERT_GE(of_a.size(), 4u);
  ASSERT_GE(of_b.size(), 4u);

  // Here (A): as many as stay within the fraction. The peer (B): all but one.
  const std::size_t dead_here = static_cast<std::size_t>(std::floor(max_fraction * static_cast<double>(of_a.size())));
  const std::size_t dead_there = of_b.size() - 1;
  ASSERT_GE(dead_here, 1u);
  ASSERT_GT(static_cast<double>(dead_here + dead_there) / target_count, max_fraction) << "the fleet must trip";
  const std::vector<std::string> held(of_a.begin(), of_a.begin() + static_cast<std::ptrdiff_t>(dead_here));
  const std::vector<std::string> peers_dead(of_b.begin(), of_b.begin() + static_cast<std::ptrdiff_t>(dead_there));
  std::cout << "split " << of_a.size() << "/" << of_b.size() << ": " << dead_here << " die on fs-a, " << dead_there
            << " on fs-b\n";

  const auto killed = std::chrono::steady_clock::now();
  for (const auto& id : peers_dead) listeners_.at(id)->close();
  for (const auto& id : held) listeners_.at(id)->close();

  // A trips on the fleet's counts; its own share alone would not.
  ASSERT_TRUE(eventually([&] { return metric(*a, "healthsweep_failsafe_active") == 1; }, 5s)) << a->log();
  const auto tripped = a->log().find("FAIL-SAFE ACTIVE: remediation paused: fleet: ");
  ASSERT_NE(tripped, std::string::npos) << a->log();
  const std::string line = a->log().substr(tripped, a->log().find('\n', tripped) - tripped);
  EXPECT_NE(line.find("across 2 instances (max 30%)"), std::string::npos) << line;
  EXPECT_EQ(metric(*b, "healthsweep_failsafe_active"), 1) << b->log();
  // A's restarts fell due (settle) and were held, not merely not yet due.
  ASSERT_TRUE(eventually([&] { return suppressed_webhooks(*a) >= static_cast<double>(dead_here); }, 10s))
      << a->log();
  EXPECT_TRUE(holds_for(2s, [&] { return webhook_total(hook_) == 0; })) << hook_.posts() << a->log();
  EXPECT_EQ(webhook_total(hook_), 0u) << "nothing remediated while the fleet is down: " << hook_.posts();
  for (const auto& id : held) EXPECT_EQ(state_of(*a, id), "offline") << id;
  std::cout << "held " << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count()
            << " s after the deaths\n";

  // B's targets come back: the fleet recovers, A's held ones go out once.
  for (const auto& id : peers_dead) listeners_.at(id)->open();
  const auto repaired = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return metric(*a, "healthsweep_failsafe_active") == 0; }, 6s)) << a->log();
  EXPECT_NE(a->log().find("fail-safe cleared: remediation resumes: recovered: fleet: ", tripped), std::string::npos)
      << a->log();
  std::map<std::string, int> calls;
  ASSERT_TRUE(eventually(
      [&] {
        calls = webhook_calls(hook_);
        return calls.size() == held.size();
      },
      10s))
      << hook_.posts() << a->log();
  std::cout << "remediated " << std::chrono::duration<double>(std::chrono::steady_clock::now() - repaired).count()
            << " s after the peer's targets came back (settle 3 s)\n";
  EXPECT_TRUE(holds_for(1s, [&] { return webhook_calls(hook_) == calls; })) << hook_.posts();
  for (const auto& id : held) EXPECT_EQ(calls[id], 1) << id << ": remediated once, by its owner";
  for (const auto& id : of_b) EXPECT_EQ(calls.count(id), 0u) << id << " came back by itself";
  EXPECT_EQ(metric(*a, "healthsweep_remediations_total{action=\"webhook\",result=\"ok\"}"),
            static_cast<double>(held.size()));
  EXPECT_EQ(metric(*b, "healthsweep_remediations_total{action=\"webhook\",result=\"ok\"}"), 0);
}

}  // namespace
