// What the Sentinel part of the Redis client makes of a +switch-master
// message; talking to real sentinels is tests/integration/passive_sentinel_test.
#include "clients/redis/sentinel.hpp"

#include <gtest/gtest.h>

namespace healthsweep::clients::redis {
namespace {

RedisEndpoint base() {
  RedisEndpoint b;
  b.host = "unused";
  b.port = 1;
  b.password = "pw";
  b.db = 3;
  return b;
}

TEST(SentinelSwitchMaster, TheNewAddressKeepsTheUrlsDbAndPassword) {
  const auto m = parse_switch_master("m1 127.0.0.1 6379 10.1.2.3 6380", "m1", base());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host, "10.1.2.3");
  EXPECT_EQ(m->port, 6380);
  EXPECT_EQ(m->db, 3);
  EXPECT_EQ(m->password, "pw");
  EXPECT_EQ(host_port(*m), "10.1.2.3:6380");
  const auto v6 = parse_switch_master("m1 ::1 6379 ::1 6380", "m1", base());
  ASSERT_TRUE(v6);
  EXPECT_EQ(host_port(*v6), "[::1]:6380");
}

TEST(SentinelSwitchMaster, AnotherMasterOrAMalformedMessageIsIgnored) {
  EXPECT_FALSE(parse_switch_master("m2 127.0.0.1 6379 127.0.0.1 6380", "m1", base()));
  EXPECT_FALSE(parse_switch_master("m1 127.0.0.1 6379 127.0.0.1", "m1", base()));
  EXPECT_FALSE(parse_switch_master("m1 127.0.0.1 6379 127.0.0.1 0", "m1", base()));
  EXPECT_FALSE(parse_switch_master("m1 127.0.0.1 6379 127.0.0.1 65536", "m1", base()));
  EXPECT_FALSE(parse_switch_master("m1 127.0.0.1 6379 127.0.0.1 6380x", "m1", base()));
  EXPECT_FALSE(parse_switch_master("", "m1", base()));
  EXPECT_FALSE(parse_switch_master("m1 a 1 b 2 c", "m1", base()));
}

TEST(SentinelSwitchMaster, SameServerComparesTheAddressOnly) {
  auto a = base();
  auto b = base();
  b.db = 7;
  EXPECT_TRUE(same_server(a, b));
  b.port = 2;
  EXPECT_FALSE(same_server(a, b));
}

}  // namespace
}  // namespace healthsweep::clients::redis
