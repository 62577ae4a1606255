#include "tests/support/redis_sentinel.hpp"

#include <algorithm>
#include <sstream>

namespace healthsweep::testing {

namespace {

int count_lines(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  int n = 0;
  for (std::string l; std::getline(in, l);) n += l == line;
  return n;
}

}  // namespace

std::unique_ptr<RedisSentinelSet> RedisSentinelSet::start(std::string* why) {
  std::unique_ptr<RedisSentinelSet> set(new RedisSentinelSet());
  auto master = RedisServer::start(why);
  if (!master) return nullptr;
  const auto master_port = std::to_string(master->port());
  RedisServer::Options replica_options;
  replica_options.config_lines = {"replicaof 127.0.0.1 " + master_port};
  auto replica = RedisServer::start(replica_options, why);
  if (!replica) return nullptr;
  set->servers_.push_back(std::move(master));
  set->servers_.push_back(std::move(replica));
  for (int i = 0; i < 3; ++i) {
    RedisServer::Options o;
    o.sentinel = true;
    o.config_lines = {std::string("sentinel monitor ") + master_name + " 127.0.0.1 " + master_port + " 2",
                      std::string("sentinel down-after-milliseconds ") + master_name + " 1000",
                      std::string("sentinel failover-timeout ") + master_name + " 10000"};
    auto sentinel = RedisServer::start(o, why);
    if (!sentinel) return nullptr;
    set->sentinels_.push_back(std::move(sentinel));
  }
  // A failover needs a replica the sentinels saw in sync, and peers to vote
  // (sentinels find each other through hello messages every 2 s).
  const auto replica_port = "127.0.0.1:" + std::to_string(set->servers_[1]->port());
  const bool ready = eventually(
      [&] {
        for (const auto& s : set->sentinels_) {
          auto c = s->client();
          const auto replicas = c->run({"SENTINEL", "REPLICAS", master_name});
          // One replica, up (flags exactly "slave", no s_down) and in sync with the master.
          if (replicas.find(replica_port) == std::string::npos || replicas.find("\nflags\nslave\n") == std::string::npos ||
              replicas.find("\nmaster-link-status\nok\n") == std::string::npos)
            return false;
          if (count_lines(c->run({"SENTINEL", "SENTINELS", master_name}), "runid") != 2) return false;
        }
        return true;
      },
      std::chrono::seconds(30));
  if (!ready) {
    if (why) *why = "the sentinels did not see the replica and each other within 30 s:\n" + set->logs();
    return nullptr;
  }
  return set;
}

std::string RedisSentinelSet::sentinels_yaml(const std::string& host) const {
  std::string out = "[";
  for (const auto& s : sentinels_)
    out += (out.size() > 1 ? ", " : "") + std::string("\"") + host + ":" + std::to_string(s->port()) + "\"";
  return out + "]";
}

int RedisSentinelSet::master_port(int i) const {
  const auto reply = sentinels_.at(i)->client()->run({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name});
  const auto newline = reply.find('\n');
  if (newline == std::string::npos) return 0;
  try {
    return std::stoi(reply.substr(newline + 1));
  } catch (...) {
    return 0;
  }
}

RedisServer* RedisSentinelSet::master(int i) {
  const int port = master_port(i);
  for (auto& s : servers_)
    if (s->port() == port) return s.get();
  return nullptr;
}

std::string RedisSentinelSet::failover(std::chrono::milliseconds timeout) {
  // Through the first sentinel still running; the others are waited for.
  std::vector<int> up;
  for (int i = 0; i < static_cast<int>(sentinels_.size()); ++i)
    if (sentinels_[i]->running()) up.push_back(i);
  if (up.empty()) return "no sentinel is running";
  const int before = master_port(up[0]);
  RedisServer* next = nullptr;
  for (auto& s : servers_)
    if (s->port() != before) next = s.get();
  if (!next) return "the sentinels name no known master (" + std::to_string(before) + ")";
  std::string answer;
  // NOGOODSLAVE while the sentinel has not yet judged the replica fit: asked again.
  auto via = sentinels_[up[0]]->client();
  if (!eventually([&] { return (answer = via->run({"SENTINEL", "FAILOVER", master_name})) == "OK"; }, timeout))
    return "SENTINEL FAILOVER answered " + answer;
  const bool done = eventually(
      [&] {
        for (const int i : up)
          if (master_port(i) != next->port()) return false;
        return next->client()->run({"ROLE"}).starts_with("master");
      },
      timeout);
  return done ? std::string() : "the sentinels did not all name port " + std::to_string(next->port()) + ":\n" + logs();
}

std::string RedisSentinelSet::logs() const {
  std::string out;
  for (const auto& s : servers_) out += "--- redis " + std::to_string(s->port()) + "\n" + s->log();
  for (const auto& s : sentinels_) out += "--- sentinel " + std::to_string(s->port()) + "\n" + s->log();
  return out;
}

}  // namespace healthsweep::testing
