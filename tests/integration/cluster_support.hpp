// Shared by the cluster tests (issue 14) against real daemons over one
// PostgreSQL: the `cluster` section they run with, which instance judges
// which target (each daemon's /admin/targets), and a database of the test's
// own with the daemon's schema in it.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <memory>

#include "tests/integration/faults_support.hpp"
#include "tests/support/daemon.hpp"

namespace healthsweep::testing {

// lease 3 s, renewed every second: fenced 2 s after the last renewal sent,
// an owner for itself 4 s after joining.
inline std::string cluster_section(const std::string& instance_id) {
  return "cluster:\n  instance_id: " + instance_id + "\n  lease: 3s\n  renew_every: 1s\nliveness: { stale_after: 5s }\n";
}

struct JudgedTarget {
  std::string state;
  std::int64_t restarts = 0;
};

// The targets `d` judges, by id (none when it does not answer).
inline std::map<std::string, JudgedTarget> judged(const Daemon& d) {
  std::map<std::string, JudgedTarget> out;
  const auto r = d.get("/admin/targets");
  if (r.status != 200) return out;
  const auto doc = boost::json::parse(r.body);  // named: a temporary's array would dangle
  for (const auto& t : doc.as_array())
    out[std::string(t.at("id").as_string())] =
        JudgedTarget{std::string(t.at("state").as_string()), t.at("restarts").to_number<std::int64_t>()};
  return out;
}

// When every one of `expected` targets is judged by exactly one of
// `daemons`: the index of each target's judge. Otherwise nullopt and *why.
inline std::optional<std::map<std::string, int>> owners(const std::vector<const Daemon*>& daemons,
                                                        std::size_t expected, std::string* why) {
  std::map<std::string, int> owner;
  for (std::size_t i = 0; i < daemons.size(); ++i)
    for (const auto& [id, target] : judged(*daemons[i])) {
      if (!owner.emplace(id, static_cast<int>(i)).second) {
        *why = id + " judged by two instances";
        return std::nullopt;
      }
    }
  if (owner.size() != expected) {
    *why = std::to_string(owner.size()) + " of " + std::to_string(expected) + " targets judged";
    return std::nullopt;
  }
  return owner;
}

// A database named after `prefix`, with the daemon's schema applied by one
// daemon without a cluster (so the members start on a complete schema).
// Null and a skip (or a failure on CI) without HS_TEST_PG_DSN.
inline std::unique_ptr<TestDatabase> cluster_database(const std::string& prefix) {
  const char* dsn = std::getenv("HS_TEST_PG_DSN");
  if (!dsn || !*dsn) return nullptr;
  auto db = std::make_unique<TestDatabase>(dsn, prefix);
  TempDir spool;
  Daemon seed(store_section(db->dsn(), spool.path()));
  EXPECT_TRUE(eventually(
      [&] {
        return PgSession(db->dsn()).query("SELECT to_regclass('healthsweep_members') IS NOT NULL").at(0).at(0) == "t";
      },
      std::chrono::seconds(20)))
      << seed.log();
  return db;
}

#define HS_REQUIRE_PG_DSN()                                                                                     \
  do {                                                                                                         \
    const char* hs_dsn_ = std::getenv("HS_TEST_PG_DSN");                                                       \
    if (!hs_dsn_ || !*hs_dsn_) {                                                                               \
      if (::healthsweep::testing::in_ci())                                                                     \
        GTEST_FAIL() << "HS_TEST_PG_DSN is not set: scripts/test could not start PostgreSQL (CI=true)";        \
      GTEST_SKIP() << "SKIPPED LOUDLY: HS_TEST_PG_DSN is not set; run through scripts/test";                   \
    }                                                                                                          \
  } while (false)

}  // namespace healthsweep::testing
