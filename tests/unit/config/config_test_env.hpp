// Shared by the config_*_test.cpp files: the environment variable that
// supplies a PostgreSQL DSN changes what a config needs, so every config test
// runs without it and restores it afterwards; and errors_of().
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

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

// Every problem of a config text loaded as "cfg.yaml", as the operator reads
// them ("cfg.yaml:LINE:COL: message").
inline std::vector<std::string> errors_of(const std::string& yaml) {
  const LoadResult result = load_string(yaml, "cfg.yaml");
  std::vector<std::string> lines;
  for (const auto& e : result.errors) lines.push_back(e.to_string());
  EXPECT_EQ(result.config.has_value(), lines.empty()) << "a config is returned only without errors";
  return lines;
}

}  // namespace healthsweep::config
