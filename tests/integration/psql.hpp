// Running SQL against the test's PostgreSQL with the psql client, as an
// operator would: the output unaligned, tuples only, trailing newlines cut.
#pragma once

#include <string>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

inline std::string psql(const std::string& dsn, const std::string& sql) {
  std::string out;
  run_shell("psql \"" + dsn + "\" -Atqc \"" + sql + "\"", &out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace healthsweep::testing
