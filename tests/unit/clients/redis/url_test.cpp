// Redis URLs and glob escaping (sweeps/redis_client.hpp), and the heartbeat
// key pattern built on them (sweeps/heartbeat_deadlines.hpp).
#include "sweeps/passive/heartbeat_deadlines.hpp"
#include "clients/redis/client.hpp"

#include <gtest/gtest.h>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::redis;
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;
namespace {

RedisEndpoint parse_ok(std::string_view url) {
  const auto r = parse_redis_url(url);
  EXPECT_TRUE(r.endpoint) << url << ": " << r.error;
  return r.endpoint.value_or(RedisEndpoint{});
}

std::string parse_error(std::string_view url) {
  const auto r = parse_redis_url(url);
  EXPECT_FALSE(r.endpoint) << url;
  return r.error;
}

TEST(RedisUrl, TcpWithDefaults) {
  const auto ep = parse_ok("redis://127.0.0.1");
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, 6379);
  EXPECT_EQ(ep.db, 0);
  EXPECT_TRUE(ep.password.empty());
  EXPECT_TRUE(ep.unix_path.empty());
}

TEST(RedisUrl, TcpWithPortDbAndPassword) {
  const auto ep = parse_ok("redis://:s%40cret@127.0.0.1:56379/3");
  EXPECT_EQ(ep.port, 56379);
  EXPECT_EQ(ep.db, 3);
  EXPECT_EQ(ep.password, "s@cret");
  EXPECT_TRUE(ep.username.empty());
  EXPECT_EQ(ep.describe(), "127.0.0.1:56379/3") << "never the password";
}

TEST(RedisUrl, AclUserAndPassword) {
  const auto ep = parse_ok("redis://watcher:pw@localhost:6380/0");
  EXPECT_EQ(ep.username, "watcher");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_EQ(ep.host, "localhost");
}

TEST(RedisUrl, BarePasswordInUserinfo) {
  const auto ep = parse_ok("redis://secret@127.0.0.1/1");
  EXPECT_EQ(ep.password, "secret");
  EXPECT_TRUE(ep.username.empty());
}

TEST(RedisUrl, Ipv6Host) {
  const auto ep = parse_ok("redis://[::1]:7000/2");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.describe(), "[::1]:7000/2");
}

TEST(RedisUrl, UnixSocketWithDbAndPassword) {
  const auto ep = parse_ok("unix:///run/redis/redis.sock?db=5&password=x");
  EXPECT_EQ(ep.unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(ep.db, 5);
  EXPECT_EQ(ep.password, "x");
  EXPECT_EQ(ep.describe(), "unix:/run/redis/redis.sock/5");
}

TEST(RedisUrl, RejectsWhatItCannotUse) {
  EXPECT_NE(parse_error("rediss://127.0.0.1").find("TLS"), std::string::npos);
  EXPECT_NE(parse_error("http://127.0.0.1").find("scheme"), std::string::npos);
  EXPECT_NE(parse_error("redis://127.0.0.1/abc").find("number"), std::string::npos);
  EXPECT_NE(parse_error("unix:///x.sock?db=-1").find("number"), std::string::npos);
  EXPECT_NE(parse_error("unix:///x.sock?timeout=1").find("timeout"), std::string::npos);
  EXPECT_NE(parse_error("unix://host/x.sock").find("unix"), std::string::npos);
  EXPECT_FALSE(parse_error("not a url").empty());
  EXPECT_FALSE(parse_error("redis:///0").empty());
}

TEST(RedisGlob, EscapesMetacharacters) {
  EXPECT_EQ(redis_glob_escape("hb:[a]*?\\x"), "hb:\\[a\\]\\*\\?\\\\x");
  EXPECT_EQ(redis_glob_escape("plain:key"), "plain:key");
}

TEST(HeartbeatKeyPattern, MapsIdsToKeysAndBack) {
  const HeartbeatKeyPattern p("healthsweep:heartbeat:{id}");
  EXPECT_EQ(p.key("ws-1"), "healthsweep:heartbeat:ws-1");
  EXPECT_EQ(p.id_of("healthsweep:heartbeat:ws-1"), "ws-1");
  EXPECT_FALSE(p.id_of("healthsweep:heartbeat:"));
  EXPECT_FALSE(p.id_of("other:ws-1"));
  EXPECT_EQ(p.glob(), "healthsweep:heartbeat:*");
}

TEST(HeartbeatKeyPattern, IdInTheMiddleAndGlobCharactersInTheTemplate) {
  const HeartbeatKeyPattern p("hb[1]:{id}:alive");
  EXPECT_EQ(p.key("a"), "hb[1]:a:alive");
  EXPECT_EQ(p.id_of("hb[1]:a:b:alive"), "a:b");
  EXPECT_FALSE(p.id_of("hb[1]:a:dead"));
  EXPECT_EQ(p.glob(), "hb\\[1\\]:*:alive");
}

TEST(HeartbeatKeyPattern, TemplateWithoutIdGetsItAppended) {
  const HeartbeatKeyPattern p("hb:");
  EXPECT_EQ(p.key("x"), "hb:x");
  EXPECT_EQ(p.id_of("hb:x"), "x");
}

}  // namespace
}  // namespace healthsweep::sweeps
