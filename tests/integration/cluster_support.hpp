// Shared by the cluster integration tests (issue 14): a database of the
// test's own with the daemon's schema in it, and the targets a daemon judges.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <map>
#include <memory>
#include <string>

#include "tests/integration/faults_support.hpp"

namespace healthsweep::testing {

// The targets `d` judges (its local /admin/targets): id -> restarts.
inline std::map<std::string, std::int64_t> judged(const Daemon& d) {
  std::map<std::string, std::int64_t> out;
  const auto r = d.get("/admin/targets");
  if (r.status != 200) return out;
  const auto doc = boost::json::parse(r.body);  // named: a temporary's array would dangle
  for (const auto& t : doc.as_array())
    out[std::string(t.at("id").as_string())] = t.at("restarts").to_number<std::int64_t>();
  return out;
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
