// Shared by the fault tests against the real daemon and PostgreSQL (issue 13
// section 4): a database of the test's own, a libpq session, the events as
// healthsweep_events and the spool file hold them (read here independently of
// the daemon's own parser), and the check that each target's events form an
// unbroken chain of states (a lost event in the middle breaks it).
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <boost/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/metrics_text.hpp"
#include "tests/support/pg_session.hpp"
#include "tests/support/process.hpp"

namespace healthsweep::testing {

// A database of its own on the server of `server_dsn`, dropped at the end.
class TestDatabase {
 public:
  TestDatabase(const std::string& server_dsn, const std::string& prefix)
      : server_dsn_(server_dsn),
        name_(prefix + "_" + std::to_string(std::random_device{}() % 1000000)) {
    PgSession(server_dsn_).query("CREATE DATABASE " + name_);
  }
  ~TestDatabase() {
    try {
      PgSession(server_dsn_).query("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& x) {
      ADD_FAILURE() << x.what();
    }
  }
  std::string dsn() const { return server_dsn_ + " dbname=" + name_; }
  // Sessions on this database other than the asking one. After a client is
  // killed, its backend still finishes (and commits) a statement it had
  // received before it notices the closed socket and exits: zero means every
  // statement the client sent is settled.
  int other_sessions() const {
    return std::stoi(PgSession(server_dsn_)
                         .query("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + name_ +
                                "' AND pid <> pg_backend_pid()")
                         .at(0)
                         .at(0));
  }

 private:
  std::string server_dsn_, name_;
};

struct FaultEvent {
  std::string event_id, target, from, to;
  bool operator==(const FaultEvent&) const = default;
};

// healthsweep_events in the order PostgreSQL stored them (id).
inline std::vector<FaultEvent> db_events(const std::string& dsn) {
  std::vector<FaultEvent> out;
  for (auto& row : PgSession(dsn).query(
           "SELECT event_id, target, from_state, to_state FROM healthsweep_events ORDER BY id"))
    out.push_back({row[0], row[1], row[2], row[3]});
  return out;
}

struct SpoolText {
  std::vector<FaultEvent> events;  // whole lines, in file order
  std::size_t corrupt = 0;         // lines that are not an event
  bool torn_tail = false;          // text after the last newline
};

inline SpoolText read_spool_text(const std::string& text) {
  SpoolText out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.torn_tail = true;
      break;
    }
    boost::system::error_code ec;
    const auto v = boost::json::parse(std::string_view(text).substr(start, nl - start), ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o && o->contains("event_id") && o->contains("target") && o->contains("from") && o->contains("to"))
      out.events.push_back({std::string(o->at("event_id").as_string()), std::string(o->at("target").as_string()),
                            std::string(o->at("from").as_string()), std::string(o->at("to").as_string())});
    else
      ++out.corrupt;
    start = nl + 1;
  }
  return out;
}

// The daemon's event ids are "<boot id>-<sequence>".
inline std::string boot_of(const FaultEvent& e) { return e.event_id.substr(0, e.event_id.find('-')); }

inline std::vector<FaultEvent> of_boot(const std::vector<FaultEvent>& events, const std::string& boot) {
  std::vector<FaultEvent> out;
  for (const auto& e : events)
    if (boot_of(e) == boot) out.push_back(e);
  return out;
}

// Each target's events in the given order must go unknown -> ... with every
// `from` the previous `to`: a lost event in the middle breaks its chain.
// Empty when every chain holds; otherwise what broke.
inline std::string chain_breaks(const std::vector<FaultEvent>& events) {
  std::map<std::string, std::string> state;
  std::string breaks;
  for (const auto& e : events) {
    auto [it, fresh] = state.try_emplace(e.target, "unknown");
    if (e.from != it->second)
      breaks += e.event_id + " (" + e.target + ") is " + e.from + ">" + e.to + " after " + it->second + "\n";
    it->second = e.to;
  }
  return breaks;
}

inline std::set<std::string> ids_of(const std::vector<FaultEvent>& events) {
  std::set<std::string> out;
  for (const auto& e : events) out.insert(e.event_id);
  return out;
}

// Ids that occur more than once.
inline std::vector<std::string> duplicate_ids(const std::vector<FaultEvent>& events) {
  std::set<std::string> seen;
  std::vector<std::string> dup;
  for (const auto& e : events)
    if (!seen.insert(e.event_id).second) dup.push_back(e.event_id);
  return dup;
}

// The sum of every series of a family in /metrics (-1: no answer).
inline double metric_sum(const Daemon& d, const std::string& family) {
  const auto r = d.get("/metrics");
  if (r.status != 200) return -1;
  return family_total(r.body, family);
}

inline std::string store_section(const std::string& dsn, const std::string& spool_dir) {
  return "postgres:\n  dsn: \"" + dsn + "\"\n  spool_dir: \"" + spool_dir + "\"\n";
}

// A loopback TCP port that accepts (and closes) every connection while
// open: the targets checking it are alive; close() makes them all die at
// once, open() brings them back on the same port. Closed, the port stays
// bound (never listening: connections are refused), so nothing else can
// take it meanwhile.
class TcpListener {
 public:
  TcpListener() { open(); }
  ~TcpListener() {
    close();
    if (held_ >= 0) ::close(held_);
  }
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  int port() const { return port_; }
  void open() {
    if (!closed_) return;
    fd_ = bound_socket();
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::listen(fd_, 4096) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on loopback");
    port_ = ntohs(a.sin_port);
    if (held_ >= 0) ::close(held_);
    held_ = -1;
    closed_ = false;
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) {
          if (closed_) return;
          continue;
        }
        ::close(c);
      }
    });
  }
  void close() {
    if (closed_.exchange(true)) return;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
    held_ = bound_socket();  // SO_REUSEADDR: past the TIME_WAITs of the connections it closed
  }

 private:
  // A loopback socket bound to port_ (any port while 0), SO_REUSEADDR so a
  // listener binds beside the held one; -1 when that fails.
  int bound_socket() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (fd < 0) return -1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  int fd_ = -1, port_ = 0, held_ = -1;
  std::atomic<bool> closed_{true};
  std::thread thread_;
};

// `n` static targets checked over TCP at `port`: nobody listening there, each
// makes exactly two transitions (unknown > suspect > offline,
// failure_threshold 2), a burst of 2n events within a few 100 ms sweeps; a
// TcpListener there, each goes online, and two more when it closes.
inline std::string dying_fleet(int n, int port, const std::string& prefix = "f") {
  std::string yaml = "targets:\n  static:\n";
  for (int i = 0; i < n; ++i)
    yaml += "    - { id: " + prefix + "-" + std::to_string(i) + ", tcp: \"127.0.0.1:" +
            std::to_string(port) + "\" }\n";
  return yaml + "sweeps:\n  proactive: { interval: 100ms, timeout: 1s, jitter: 0, failure_threshold: 2 }\n";
}

}  // namespace healthsweep::testing
