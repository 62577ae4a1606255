// Shared by the fault tests (clock jumps, network faults, double faults): a
// fleet of targets that really heart-beat into a real Redis from a thread of
// the test, the daemon's configuration for them, and what the daemon did
// about them (restart orders received by a webhook, transitions, the wall
// clock it believes in).
#pragma once

#include <boost/json/parse.hpp>

#include <atomic>
#include <ctime>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"
#include "tests/support/redis_server.hpp"

namespace healthsweep::testing {

inline std::vector<std::string> fleet_ids(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(std::string(prefix).append(std::to_string(i)));
  return ids;
}

// Every live target SETs its key with a TTL every `period`, as a real one
// does. A target told to die() stops. Over 127.0.0.1 of the test's own
// network namespace: a test that cuts the daemon's path to Redis (in the
// daemon's namespace) keeps the heartbeats flowing. Reconnects by itself
// when Redis restarts (RedisTestClient does).
class Heartbeater {
 public:
  Heartbeater(const RedisServer& redis, std::vector<std::string> ids, std::chrono::milliseconds ttl,
              std::chrono::milliseconds period)
      : client_(redis.client()), ttl_(ttl), period_(period), alive_(ids.begin(), ids.end()) {
    beat();  // every key exists before the daemon starts
    thread_ = std::thread([this] {
      while (!stop_) {
        std::this_thread::sleep_for(period_);  // the heart-beat period itself, not a synchronisation
        beat();
      }
    });
  }
  ~Heartbeater() {
    stop_ = true;
    thread_.join();
  }
  void die(const std::string& id) {
    std::lock_guard lock(mu_);
    alive_.erase(id);
  }
  // Waits until `n` more rounds were written (a heart-beat period each).
  bool wait_rounds(std::uint64_t n, std::chrono::milliseconds limit = std::chrono::seconds(60)) const {
    const auto target = rounds_ + n;
    return eventually([&] { return rounds_ >= target; }, limit);
  }

 private:
  void beat() {
    std::vector<std::vector<std::string>> cmds;
    {
      std::lock_guard lock(mu_);
      for (const auto& id : alive_)
        cmds.push_back({"SET", "healthsweep:heartbeat:" + id, "1", "PX", std::to_string(ttl_.count())});
    }
    if (client_->pipeline(cmds) == 0) ++rounds_;  // a round that failed (Redis restarting) does not count
  }
  std::unique_ptr<RedisTestClient> client_;
  std::chrono::milliseconds ttl_, period_;
  std::mutex mu_;
  std::set<std::string> alive_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> rounds_{0};
  std::thread thread_;
};

inline std::string static_targets_yaml(const std::vector<std::string>& ids) {
  std::string c = "targets:\n  static:\n";
  for (const auto& id : ids) c += "    - { id: " + id + " }\n";
  return c;
}

// Restart orders go to a webhook the test owns: each POST is one order, so
// the orders (and their targets) can be counted exactly. startup_grace is
// long: a target that stays dead after its restart is not restarted again
// within a test.
inline std::string webhook_remediation_yaml(const std::string& webhook_url, const std::string& fail_safe) {
  return "remediation:\n  restart:\n    via: webhook\n    webhook_url: \"" + webhook_url +
         "\"\n    settle: 0s\n    startup_grace: 1h\n  fail_safe: { " + fail_safe + " }\n";
}

// Target id -> how many restart orders the webhook received for it.
inline std::map<std::string, int> restart_orders(const StatusServer& hook) {
  std::map<std::string, int> out;
  std::istringstream lines(hook.posts());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto o = boost::json::parse(line).as_object();
    if (o.at("action").as_string() == "restart") ++out[std::string(o.at("target").as_string())];
  }
  return out;
}

inline std::map<std::string, int> once_each(const std::vector<std::string>& ids) {
  std::map<std::string, int> out;
  for (const auto& id : ids) out[id] = 1;
  return out;
}

// Targets of `ids` whose state is not `state` (empty: all are).
inline std::vector<std::string> not_in_state(const Daemon& d, const std::vector<std::string>& ids,
                                             const std::string& state) {
  std::vector<std::string> out;
  for (const auto& id : ids)
    if (state_of(d, id) != state) out.push_back(id);
  return out;
}

inline double offline_transitions(const Daemon& d) {
  double n = 0;
  for (const char* from : {"unknown", "online", "suspect"})
    n += metric(d, std::string("healthsweep_transitions_total{from=\"") + from + "\",to=\"offline\"}");
  return n;
}

// An RFC 3339 UTC time with milliseconds ("2026-12-02T23:26:34.123Z"), as
// seconds since the epoch.
inline double parse_rfc3339(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return 0;
  double frac = 0;
  if (s.size() > 19 && s[19] == '.') frac = std::stod("0" + s.substr(19, s.find('Z') - 19));
  return static_cast<double>(timegm(&tm)) + frac;
}

// How far ahead of the real wall clock the daemon's wall clock is, in
// seconds, read from the passive subsystem's last tick in /admin/liveness
// (the daemon's system_clock when the tick was taken, at most a second or
// two old); nullopt when it has not ticked.
inline std::optional<double> daemon_wall_offset(const Daemon& d) {
  const auto r = d.get("/admin/liveness");
  if (r.status == 0) return std::nullopt;
  const auto o = boost::json::parse(r.body).as_object();
  const auto& passive = o.at("subsystems").as_object().at("passive").as_object();
  if (!passive.contains("last_tick") || !passive.at("last_tick").is_string()) return std::nullopt;
  const double tick = parse_rfc3339(std::string(passive.at("last_tick").as_string()));
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return tick - now;
}

}  // namespace healthsweep::testing
