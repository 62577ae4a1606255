#include <gtest/gtest.h>
#include <unistd.h>
#include "tests/support/process.hpp"
TEST(DaemonBinary, Exists) {
  EXPECT_EQ(::access(HEALTHSWEEPD_PATH, X_OK), 0);
}
