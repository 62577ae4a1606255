#include <gtest/gtest.h>

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

TEST(BearerAuth, MissingWrongOrMalformedIsUnauthorized) {
  const std::optional<std::string> t = "s3cret";
  for (auto h : {"", "Bearer", "Bearer ", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret",
                 "s3cret", "Bearer S3CRET"})
    EXPECT_EQ(check_bearer(t, h), AuthResult::missing_or_wrong) << h;
}
