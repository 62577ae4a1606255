// A PostgreSQL server of one test's own (initdb into a temporary directory,
// run as the postgres user like scripts/services does), for faults that
// would disturb other tests on the shared one: SIGSTOP of the postmaster and
// every backend, SIGKILL and a restart with crash recovery.
#pragma once

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

class PrivatePostgres {
 public:
  PrivatePostgres() : port_(free_port()) {
    run_shell("ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1", &bin_);
    while (!bin_.empty() && bin_.back() == '\n') bin_.pop_back();
    ::chmod(dir_.path().c_str(), 0755);  // the postgres user walks into it
    pg_ = dir_.file("pg");
    if (bin_.empty() || run_shell("mkdir -p '" + pg_ + "' && chown postgres '" + pg_ + "'") != 0 ||
        run_shell("runuser -u postgres -- '" + bin_ + "/initdb' -D '" + pg_ + "/data' -A trust >'" + pg_ +
                  "/initdb.log' 2>&1", &error_) != 0) {
      error_ += "initdb failed: " + read_file(pg_ + "/initdb.log");
      return;
    }
    started_ = start();
  }
  ~PrivatePostgres() {
    if (!started_) return;
    signal_all(SIGCONT);
    if (run_shell(ctl("-m immediate stop")) != 0) signal_all(SIGKILL);
  }
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  bool started() const { return started_; }
  std::string error() const { return error_ + read_file(pg_ + "/log"); }
  std::string dsn() const { return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres"; }

  // The postmaster and its children (backends, checkpointer, ...).
  std::vector<pid_t> pids() const {
    std::ifstream pidfile(pg_ + "/data/postmaster.pid");
    pid_t postmaster = 0;
    if (!(pidfile >> postmaster) || postmaster <= 0) return {};
    std::string children;
    run_shell("ps -o pid= --ppid " + std::to_string(postmaster), &children);
    std::vector<pid_t> out{postmaster};
    std::size_t pos = 0;
    while (pos < children.size()) {
      std::size_t used = 0;
      try {
        out.push_back(std::stoi(children.substr(pos), &used));
      } catch (...) {
        break;
      }
      pos += used;
    }
    return out;
  }
  void signal_all(int sig) const {
    for (const pid_t p : pids()) ::kill(p, sig);
  }
  // Kills every process of the server (stopped or not) and starts it again
  // on the same data directory (crash recovery).
  bool restart() {
    const auto all = pids();
    for (const pid_t p : all) ::kill(p, SIGKILL);
    eventually([&] {
      for (const pid_t p : all)
        if (::kill(p, 0) == 0) return false;
      return true;
    }, std::chrono::seconds(10));
    return started_ = start();
  }

 private:
  std::string ctl(const std::string& args) const {
    return "runuser -u postgres -- '" + bin_ + "/pg_ctl' -D '" + pg_ + "/data' " + args + " >/dev/null 2>&1";
  }
  bool start() {
    return run_shell(ctl("-o \"-k " + pg_ + " -p " + std::to_string(port_) +
                         " -c listen_addresses=127.0.0.1\" -l '" + pg_ + "/log' -w start")) == 0;
  }

  TempDir dir_;
  std::string bin_, pg_, error_;
  int port_;
  bool started_ = false;
};

}  // namespace healthsweep::testing
