// Redis Sentinel for the Redis client: which server is the master of a name
// now, and a subscription that says when that changes. Like the rest of the
// client it knows nothing about targets or heartbeats: it hands back
// endpoints, and the caller decides what a new master means for it.
//
// Sentinels are asked in turn, each within its own deadline (connect, which
// resolves a name off the loop with clients::net::resolve, then one command);
// the first that names a master wins. A sentinel's answer is only a claim:
// confirm_master() asks the server itself (ROLE) before it is trusted, since
// during a failover a sentinel may still name the old master, or the old
// master may already have been turned into a replica.
#pragma once

#include "clients/redis/client.hpp"

#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::clients::redis {

struct MasterLookup {
  // `base` (db, user, password) at the master's address; empty: no sentinel named one.
  std::optional<RedisEndpoint> master;
  std::string answered_by;  // the sentinel that named it, "host:port"
  std::string error;        // why none did: every sentinel's reason, "; "-joined
};

// SENTINEL get-master-addr-by-name `master_name` on each of `sentinels` in
// turn (connect_timeout to connect, command_timeout for the reply).
boost::asio::awaitable<MasterLookup> ask_sentinels(boost::asio::any_io_executor ex,
                                                   const std::vector<RedisEndpoint>& sentinels,
                                                   std::string master_name, RedisEndpoint base,
                                                   RedisConnection::Options options);

// Empty when ROLE on `connection` says "master"; otherwise why not
// ("ROLE is 'slave'", the error reply, the connection error).
boost::asio::awaitable<std::string> confirm_master(RedisConnection& connection);

// "host:port" of an endpoint, IPv6 in brackets, without db or password.
std::string host_port(const RedisEndpoint& endpoint);
bool same_server(const RedisEndpoint& a, const RedisEndpoint& b);

// A `+switch-master` payload "<name> <old-ip> <old-port> <new-ip> <new-port>":
// the new address when it is about `master_name`.
std::optional<RedisEndpoint> parse_switch_master(std::string_view payload, std::string_view master_name,
                                                 const RedisEndpoint& base);

// Follows the failovers of one master: subscribed to `+switch-master` on one
// sentinel at a time (the next one when that connection is lost), it reports
// the master's address through `on_master` after each switch and after each
// (re)subscription (asked of the sentinels then, so a switch published while
// no subscription was up is not missed). Reports may repeat an address.
class SentinelWatch {
 public:
  using MasterHandler = std::function<void(const RedisEndpoint& master, const std::string& how)>;
  struct Options {
    RedisConnection::Options connection;
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
  };
  SentinelWatch(boost::asio::any_io_executor ex, std::vector<RedisEndpoint> sentinels, std::string master_name,
                RedisEndpoint base, Options options);
  ~SentinelWatch();  // stop()s
  SentinelWatch(const SentinelWatch&) = delete;
  SentinelWatch& operator=(const SentinelWatch&) = delete;

  void start(MasterHandler on_master);
  // No report after it returns; the loop finishes the watch's coroutine by itself.
  void stop();
  // True while subscribed on some sentinel.
  bool subscribed() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace healthsweep::clients::redis
