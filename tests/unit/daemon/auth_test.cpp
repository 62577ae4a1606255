#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "daemon/auth.hpp"

using healthsweep::daemon::AuthResult;
using healthsweep::daemon::check_bearer;

TEST(BearerAuth, NoTokenConfiguredIsForbiddenWhateverIsSent) {
  EXPECT_EQ(check_bearer(std::nullopt, "Bearer x"), AuthResult::not_configured);
  EXPECT_EQ(check_bearer(std::string{}, ""), AuthResult::not_configured);
}

TEST(BearerAuth, RightTokenPasses) {
  EXPECT_EQ(check_bearer(std::string("s3cret"), "Bearer s3cret"), AuthResult::ok);
  EXPECT_EQ(check_bearer(std::string("s3cret"), "bearer s3cret"), AuthResult::ok);
}

TEST(BearerAuth, AChangedTokenRefusesTheOldOneAtOnce) {
  // The configured token's digest is cached: a reload must not keep it.
  EXPECT_EQ(check_bearer(std::string("first"), "Bearer first"), AuthResult::ok);
  EXPECT_EQ(check_bearer(std::string("second"), "Bearer first"), AuthResult::missing_or_wrong);
  EXPECT_EQ(check_bearer(std::string("second"), "Bearer second"), AuthResult::ok);
  EXPECT_EQ(check_bearer(std::string("first"), "Bearer second"), AuthResult::missing_or_wrong);
}

TEST(BearerAuth, MissingWrongOrMalformedIsUnauthorized) {
  const std::optional<std::string> t = "s3cret";
  for (auto h : {"", "Bearer", "Bearer ", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret",
                 "s3cret", "Bearer S3CRET"})
    EXPECT_EQ(check_bearer(t, h), AuthResult::missing_or_wrong) << h;
}

TEST(BearerAuth, TokensOfAnyLengthAreComparedByDigest) {
  // The comparison is over SHA-256 digests: a prefix, an extension, a token
  // of another length and one differing in its last byte are all refused.
  const std::string token(64, 'a');
  EXPECT_EQ(check_bearer(token, "Bearer " + token), AuthResult::ok);
  EXPECT_EQ(check_bearer(token, "Bearer " + token.substr(0, 63)), AuthResult::missing_or_wrong);
  EXPECT_EQ(check_bearer(token, "Bearer " + token + "a"), AuthResult::missing_or_wrong);
  EXPECT_EQ(check_bearer(token, "Bearer " + token.substr(0, 63) + "b"), AuthResult::missing_or_wrong);
  EXPECT_EQ(check_bearer(token, "Bearer " + std::string(4096, 'a')), AuthResult::missing_or_wrong);
  EXPECT_EQ(check_bearer(std::string("x"), "Bearer x"), AuthResult::ok);
}

TEST(TokenFile, ReadableByGroupOrOthersIsWarnedAbout) {
  char dir_template[] = "/tmp/hs-token-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/token";
  { std::ofstream(path) << "tok"; }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(healthsweep::daemon::token_file_warning(path), std::nullopt);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  auto w = healthsweep::daemon::token_file_warning(path);
  ASSERT_TRUE(w);
  EXPECT_NE(w->find("readable by its group (mode 0640)"), std::string::npos) << *w;
  ASSERT_EQ(chmod(path.c_str(), 0604), 0);
  w = healthsweep::daemon::token_file_warning(path);
  ASSERT_TRUE(w);
  EXPECT_NE(w->find("readable by others (mode 0604)"), std::string::npos) << *w;
  EXPECT_EQ(healthsweep::daemon::token_file_warning(""), std::nullopt);
  std::remove(path.c_str());
  rmdir(dir_template);
}
