// Internal to the passive layer (passive_layer.cpp, passive_session.cpp).
#pragma once

#include "clients/redis/client.hpp"
#include "clients/redis/sentinel.hpp"
#include "sweeps/passive/existence_batches.hpp"
#include "sweeps/passive/heartbeat_deadlines.hpp"
#include "sweeps/passive/passive_layer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>
#include <random>
#include <unordered_set>

namespace healthsweep::sweeps::passive {

struct PassiveLayer::Impl : std::enable_shared_from_this<PassiveLayer::Impl> {
  using Clock = std::chrono::steady_clock;

  Impl(boost::asio::any_io_executor executor, const config::Redis& cfg, metrics::Metrics& m,
       metrics::LivenessRegistry& live, decide::EvidenceSink sink, std::function<void(bool)> on_health,
       PassiveOptions options);

  // passive_session.cpp: connection life cycle and reconciliation
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> open_session();
  boost::asio::awaitable<void> check_server_identity();
  boost::asio::awaitable<void> enable_notifications();
  boost::asio::awaitable<bool> subscribe();
  // passive_channels.cpp: exact keyspace channels (opts.exact_channels)
  boost::asio::awaitable<boost::system::error_code> subscribe_watched();
  boost::asio::awaitable<void> keep_subscriptions(std::uint64_t my_session);
  boost::asio::awaitable<boost::system::error_code> subscribe_ids(const std::vector<std::string>& ids);
  bool subscriptions_current(std::uint64_t my_session) const;
  boost::asio::awaitable<bool> reconcile();
  // The periodic pass: EXISTS batches spread over the interval (existence_batches.hpp).
  boost::asio::awaitable<bool> spread_reconcile();
  void check_existence(std::shared_ptr<const ExistenceBatch> batch);
  // After a pass: the pub/sub probe came back; publishes the next one.
  bool check_probe(std::string& why);
  // A reconciliation started at t0 ended: its metric, a liveness tick when
  // it succeeded, the warning when not. Returns how long it took, seconds.
  double reconciled(Clock::time_point t0, bool ok, const std::string& why);
  boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d);
  void close_session();
  void on_link_lost(std::uint64_t session, std::string_view which, const std::string& why);
  // Connection failures are loud once, then every 20th attempt.
  void connect_failed(const std::string& what);

  // passive_sentinel.cpp: the master through Redis Sentinel
  boost::asio::awaitable<std::optional<clients::redis::RedisEndpoint>> find_master();
  boost::asio::awaitable<bool> confirm_master();
  void start_watch();
  void stop_watch();
  void on_master_reported(const clients::redis::RedisEndpoint& master, const std::string& how);

  // passive_layer.cpp: deadlines, lookups, verdicts
  void query_pttl(const std::string& id);
  void on_pttl(const std::string& id, Clock::time_point sent_at, std::chrono::system_clock::time_point sent_wall,
               boost::system::error_code ec, const clients::redis::RedisReply& reply);
  void on_message(std::string_view channel, std::string_view payload);
  // After the watched set changed: the new ids looked up (or left to the
  // coming reconciliation), the timer rearmed.
  void targets_added(std::vector<std::string> added);
  void schedule_lookups();
  void flush_lookups();
  void rearm();
  void on_deadlines();
  // asked_at: when the PTTL that told it was sent, if one did.
  void emit(const HeartbeatVerdict& v, std::optional<Clock::time_point> asked_at = std::nullopt);
  void set_health(bool healthy);
  void source_error(const std::string& what);
  void apply_config(const config::Redis& cfg);
  void tick(Clock::time_point now);
  // The session loop's own heartbeat (whether Redis answers or not) and the
  // longest it may go between two.
  void turn();
  std::chrono::milliseconds loop_budget() const;

  boost::asio::any_io_executor ex;
  config::Redis cfg;
  PassiveOptions opts;
  metrics::Metrics& metrics;
  metrics::LivenessRegistry& live;
  decide::EvidenceSink sink;
  std::function<void(bool)> on_health;

  HeartbeatDeadlines tracker;
  HeartbeatKeyPattern keys;
  std::optional<clients::redis::RedisEndpoint> endpoint;  // empty: the URL is invalid
  // The server of the current (or last) session: the URL's, or the master
  // the sentinels named (with the URL's db and password).
  std::optional<clients::redis::RedisEndpoint> server;
  std::vector<clients::redis::RedisEndpoint> sentinels;  // from cfg.sentinels
  std::unique_ptr<clients::redis::SentinelWatch> watch;  // set while following failovers
  // A new master the watch reported, for the next session (instead of asking).
  std::optional<clients::redis::RedisEndpoint> reported_master;
  std::string url_error;
  std::string keyspace_prefix;            // "__keyspace@<db>__:"
  std::string probe_channel;              // proves the pub/sub connection end to end

  std::unique_ptr<clients::redis::RedisConnection> cmd;
  std::unique_ptr<clients::redis::RedisConnection> sub;
  boost::asio::steady_timer deadline_timer;
  std::optional<Clock::time_point> armed_at;
  boost::asio::steady_timer wake;  // reconcile interval and backoff; cancelled to wake the loop
  // Exact channels: the ids whose channel this session's pub/sub connection
  // subscribed, and the timer keep_subscriptions sleeps on (cancelled by
  // set_targets to bring the subscriptions in step).
  std::unordered_set<std::string> subscribed_ids;
  boost::asio::steady_timer resubscribe;

  bool started = false;
  bool stopping = false;
  bool healthy = false;
  bool link_lost = false;
  bool restart_requested = false;
  bool notifications = false;
  bool lookups_posted = false;
  std::uint64_t session = 0;     // close handlers of older sessions are ignored
  int sessions_opened = 0;
  int connect_failures = 0;
  std::string run_id;
  std::uint64_t probe_sent = 0;
  std::uint64_t probe_seen = 0;
  std::unordered_set<std::string> lookups;  // ids whose key changed (notifications)
  Clock::time_point last_tick{};
  std::minstd_rand rng;
};

}  // namespace healthsweep::sweeps::passive
