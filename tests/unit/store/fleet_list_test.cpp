// GET /admin/targets?scope=fleet: rows of healthsweep_targets as a page of
// target objects (the statement itself runs against real PostgreSQL in
// tests/integration/cluster_hook_test.cpp).
#include "store/fleet_list.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace healthsweep::store {
namespace {

std::vector<FleetRow> rows(std::initializer_list<const char*> ids) {
  std::vector<FleetRow> out;
  for (const char* id : ids)
    out.push_back(FleetRow{id, "online", "2026-12-04T10:00:00.000Z", "heartbeat present", 2, false, "host-b"});
  return out;
}

TEST(FleetList, EveryRowIsATargetObjectWithItsOwner) {
  auto all = rows({"a", "b"});
  all[1].owner.clear();
  all[1].quarantined = true;
  const auto page = fleet_page(all, 0);
  ASSERT_TRUE(page.ok);
  EXPECT_FALSE(page.next);
  const auto doc = boost::json::parse(page.json);
  const auto& arr = doc.as_array();
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0].at("id").as_string(), "a");
  EXPECT_EQ(arr[0].at("state").as_string(), "online");
  EXPECT_EQ(arr[0].at("since").as_string(), "2026-12-04T10:00:00.000Z");
  EXPECT_EQ(arr[0].at("reason").as_string(), "heartbeat present");
  EXPECT_EQ(arr[0].at("restarts").as_int64(), 2);
  EXPECT_FALSE(arr[0].at("quarantined").as_bool());
  EXPECT_EQ(arr[0].at("owner").as_string(), "host-b");
  EXPECT_TRUE(arr[1].at("owner").is_null()) << "a row that does not record its writer";
  EXPECT_TRUE(arr[1].at("quarantined").as_bool());
}

TEST(FleetList, OneRowBeyondTheLimitMeansANextPageStartingAfterTheLastShown) {
  const auto page = fleet_page(rows({"a", "b", "c"}), 2);
  const auto doc = boost::json::parse(page.json);
  EXPECT_EQ(doc.as_array().size(), 2u);
  EXPECT_EQ(page.next, "b");
  const auto last = fleet_page(rows({"c"}), 2);
  EXPECT_FALSE(last.next);
  const auto exact = fleet_page(rows({"a", "b"}), 2);
  EXPECT_FALSE(exact.next) << "no row beyond the limit: the last page";
}

}  // namespace
}  // namespace healthsweep::store
