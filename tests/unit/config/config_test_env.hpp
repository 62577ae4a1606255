// Shared by the config_*_test.cpp files: the environment variable that
// supplies a PostgreSQL DSN changes what a config needs, so every config test
// runs without it and restores it afterwards.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace healthsweep::config {

class WithoutPgDsnEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("HEALTHSWEEP_PG_DSN")) saved_ = v;
    ::unsetenv("HEALTHSWEEP_PG_DSN");
  }
  void TearDown() override {
    if (saved_) ::setenv("HEALTHSWEEP_PG_DSN", saved_->c_str(), 1);
    else ::unsetenv("HEALTHSWEEP_PG_DSN");
  }

 private:
  std::optional<std::string> saved_;
};

}  // namespace healthsweep::config
