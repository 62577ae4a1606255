// The passive detection layer: each target refreshes a heartbeat key in Redis
// with a TTL; the key lapsing means the target stopped. We do not wait for
// Redis' `expired` events (Redis expires lazily: they come tens of seconds
// late under load). We know every key's deadline (keyspace notifications +
// PTTL, and a SCAN reconciliation every reconcile_interval), fire one timer
// at the nearest deadline, confirm with a pipelined PTTL, and report `dead`
// with observed_at = the deadline.
//
// While Redis is unreachable (or LOADING, or being failed over) the layer
// gives no verdicts at all and reports its source unhealthy; after a
// reconnect a full reconciliation runs before any verdict. When the server
// behind the URL changed identity (restart, failover: run_id differs), keys
// may have been lost without targets stopping, so missing keys count as
// evidence only after a full grace (see HeartbeatDeadlines).
//
// What is subscribed: one pattern, `__keyspace@<db>__:<heartbeat glob>`, or
// with exact_channels the channel of each watched key, kept in step with
// set_targets (keyspace_channels.hpp, passive_channels.cpp).
//
// With redis.sentinels and redis.master_name, each session asks the sentinels
// for the master and confirms it (ROLE); a failover they announce ends the
// session, and the next one, on the new master, is such a server change
// (passive_sentinel.cpp).
#pragma once

#include "config/config.hpp"
#include "sweeps/decide/evidence.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::metrics {
class Metrics;
class LivenessRegistry;
}  // namespace healthsweep::metrics

namespace healthsweep::sweeps::passive {

struct PassiveOptions {
  // A target that never heart-beats is declared dead this long after it
  // appeared (or after the daemon started); grows to the largest TTL seen.
  // 60 s = the production TTL (SPEC section 1).
  std::chrono::milliseconds initial_grace{60000};
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  unsigned scan_count = 1000;          // SCAN COUNT floor (DBSIZE/256, up to 10x this)
  std::size_t max_batch = 4096;        // PTTLs issued per loop turn at a deadline burst
  // Deadlines predicted at a refresh notification from the key's learnt TTL
  // (HeartbeatDeadlines::set_prediction): one refresh in `ttl_sample_every`
  // is measured with a PTTL (0: every one, the behaviour before issue 15),
  // and a predicted deadline is confirmed by a PTTL `predict_margin` early.
  // The prediction counts the TTL from when the notification was handled,
  // later than the write by however long the loop took to get to it: a
  // notification handled more than the margin late wakes after Redis could
  // expire the key. 50 ms was passed once in 5 fleet runs (issue 15: a
  // lapse judged 46 ms late, its last refresh handled >= 96 ms after the
  // write). Costs nothing more: a lapsing key is asked twice (early, then at
  // its measured expiry) whatever the margin; a healthy one is refreshed
  // long before either ask.
  unsigned ttl_sample_every = 10;
  std::chrono::milliseconds predict_margin{250};
  // Periodic reconciliation: EXISTS over this many keys per command, spread
  // over half the reconcile interval in at most reconcile_steps round trips.
  std::size_t exists_batch = 100;
  std::size_t reconcile_steps = 100;
  std::chrono::milliseconds stale_after{60000};  // liveness.stale_after
  // Subscribe to each watched key's own keyspace channel instead of one
  // pattern over every heartbeat key: with several instances, each receives
  // only the notifications of the targets it owns (the daemon turns it on
  // with a cluster section; bench/BENCHMARKS.md has the figures).
  bool exact_channels = false;
  std::size_t channels_per_command = 1000;  // SUBSCRIBE/UNSUBSCRIBE batch
};

class PassiveLayer {
 public:
  PassiveLayer(boost::asio::any_io_executor ex, const config::Redis& cfg, metrics::Metrics& m,
               metrics::LivenessRegistry& live, decide::EvidenceSink sink,
               std::function<void(bool healthy)> on_source_health, PassiveOptions options = {});
  ~PassiveLayer();  // stop()s
  PassiveLayer(const PassiveLayer&) = delete;
  PassiveLayer& operator=(const PassiveLayer&) = delete;

  // Enables the `passive` and `redis` liveness subsystems, connects (a
  // command connection and a pub/sub connection), reconciles and runs until
  // stop(); reconnects with backoff on its own.
  void start();
  // Cancels timers and closes connections; no evidence, metric or callback
  // after it returns. The loop drains the layer's coroutines by itself.
  void stop();

  // Targets to watch (replaces the set). New ones get a full grace.
  void set_targets(const std::vector<std::string>& ids, std::chrono::steady_clock::time_point now);
  // A change to that set (the fleet's additions and removals of one turn).
  void change_targets(const std::vector<std::string>& added, const std::vector<std::string>& removed,
                      std::chrono::steady_clock::time_point now);
  // Connected and reconciled since the last (re)connect.
  bool source_healthy() const;
  std::optional<std::chrono::system_clock::time_point> last_heartbeat(std::string_view id) const;
  // A changed redis section: reconnects with it (keeping the targets); a new
  // URL, key pattern or sentinel setting also restarts the grace. Disabling the section is the
  // caller's business (destroy the layer).
  void reconfigure(const config::Redis& cfg);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::sweeps::passive
