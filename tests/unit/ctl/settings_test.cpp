// Where healthsweepctl looks for the daemon: the config's listen, token and
// postgres section, and the flags that override them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl/settings.hpp"
#include "tests/support/process.hpp"

namespace healthsweep::ctl {
namespace {

using ::testing::HasSubstr;
using healthsweep::testing::TempDir;

TEST(CtlSettings, ListenerAddressesBecomeUrls) {
  EXPECT_EQ(url_for_listener("127.0.0.1", 9470), "http://127.0.0.1:9470");
  EXPECT_EQ(url_for_listener("0.0.0.0", 80), "http://127.0.0.1:80");
  EXPECT_EQ(url_for_listener("::", 9470), "http://[::1]:9470");
  EXPECT_EQ(url_for_listener("::1", 9470), "http://[::1]:9470");
  EXPECT_EQ(url_for_listener("127.0.0.1", 0), "");
}

TEST(CtlSettings, TheConfigGivesListenTokenAndPostgres) {
  TempDir dir;
  dir.write("token", "s3cret\n");
  const auto path = dir.write("c.yaml", "listen: \"[::1]:9555\"\nauth:\n  token_file: token\n"
                                        "postgres:\n  dsn: \"host=127.0.0.1 port=1\"\n");
  Options o;
  o.config_path = path;
  const auto r = resolve_settings(o);
  ASSERT_TRUE(r.settings) << r.error;
  EXPECT_EQ(r.settings->url.host, "::1");
  EXPECT_EQ(r.settings->url.port, 9555);
  EXPECT_EQ(r.settings->token, "s3cret");
  EXPECT_EQ(r.settings->pg_dsn, "host=127.0.0.1 port=1");
}

TEST(CtlSettings, FlagsOverrideTheConfig) {
  TempDir dir;
  dir.write("token", "from-config");
  const auto other = dir.write("other", "from-flag\n");
  Options o;
  o.config_path = dir.write("c.yaml", "listen: 127.0.0.1:9555\nauth: { token_file: token }\n");
  o.url = "http://127.0.0.1:7000";
  o.token_file = other;
  const auto r = resolve_settings(o);
  ASSERT_TRUE(r.settings) << r.error;
  EXPECT_EQ(r.settings->url.port, 7000);
  EXPECT_EQ(r.settings->token, "from-flag");
  EXPECT_FALSE(r.settings->pg_dsn);
}

TEST(CtlSettings, ProblemsAreUsageErrors) {
  TempDir dir;
  Options missing;
  missing.config_path = dir.file("absent.yaml");
  EXPECT_THAT(resolve_settings(missing).error, HasSubstr("absent.yaml:1:1"));
  Options port_zero;
  port_zero.config_path = dir.write("c.yaml", "listen: 127.0.0.1:0\n");
  EXPECT_THAT(resolve_settings(port_zero).error, HasSubstr("listen has port 0"));
  Options bad_url;
  bad_url.config_path = dir.write("d.yaml", "{}\n");
  bad_url.url = "ftp://x";
  EXPECT_THAT(resolve_settings(bad_url).error, HasSubstr("ftp"));
  Options no_token = bad_url;
  no_token.url.reset();
  no_token.token_file = dir.file("nope");
  EXPECT_THAT(resolve_settings(no_token).error, HasSubstr("--token-file"));
}

}  // namespace
}  // namespace healthsweep::ctl
