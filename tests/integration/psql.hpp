// Running SQL against the test's PostgreSQL with the psql client, as an
// operator would: the output unaligned, tuples only, trailing newlines cut.
#pragma once

#include <random>
#include <regex>
#include <string>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

inline std::string psql(const std::string& dsn, const std::string& sql) {
  std::string out;
  run_shell("psql \"" + dsn + "\" -Atqc \"" + sql + "\"", &out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The port= of a libpq key/value DSN (5432, libpq's default, when absent).
inline int dsn_port(const std::string& dsn) {
  std::smatch m;
  return std::regex_search(dsn, m, std::regex(R"(port=(\d+))")) ? std::stoi(m[1]) : 5432;
}

// A database of the test's own on the shared server (`admin` DSN), named
// <prefix>_<random>, dropped afterwards.
struct ScratchDatabase {
  std::string admin_dsn, name, dsn;
  ScratchDatabase(const std::string& admin, const std::string& prefix) : admin_dsn(admin) {
    name = prefix + "_" + std::to_string(std::random_device{}() % 1000000);
    psql(admin_dsn, "create database " + name);
    dsn = admin_dsn + " dbname=" + name;
  }
  ~ScratchDatabase() { psql(admin_dsn, "drop database if exists " + name + " with (force)"); }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
};

}  // namespace healthsweep::testing
