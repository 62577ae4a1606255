// The daemon's configuration: the schema of SPEC section 3 as plain values.
// Loading and validation live in loader.cpp; nothing here does I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace healthsweep::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

enum class LogLevel { trace, debug, info, warn, error };
enum class LogFormat { text, json };
enum class RestartVia { engine, webhook, none };

struct Endpoint {  // "host:port"; IPv6 as "[::1]:9470"
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct StaticTarget {
  std::string id;
  std::string container;  // empty: no engine container
  std::string http;       // empty: no HTTP check
  std::optional<Endpoint> tcp;
  bool paused = false;
  bool operator==(const StaticTarget&) const = default;
};

struct Targets {
  std::vector<StaticTarget> static_targets;
  std::string engine_label = "healthsweep.target";  // empty: no engine discovery
  std::optional<std::string> postgres_query;
  Duration targets_refresh = 30s;
};

struct Redis {
  bool enabled = false;  // section present
  std::string url = "redis://127.0.0.1:6379/0";
  std::string heartbeat_key = "healthsweep:heartbeat:{id}";
  bool keyspace_events = true;
  Duration reconcile_interval = 10s;
  // Beyond SPEC: how long a target may be without a heartbeat key before
  // that is a death: after the target appeared, the daemon started, or the
  // Redis server came back empty. It grows to the largest TTL seen. SPEC's
  // production TTL, 60 s, is the default.
  Duration grace = 60s;
  // Redis Sentinel: when set (both or neither), the master of `master_name`
  // is asked of these sentinels, and `url` gives only the db and password.
  std::vector<Endpoint> sentinels;
  std::string master_name;
  bool uses_sentinel() const { return !master_name.empty(); }
};

struct Engine {
  bool enabled = false;  // section present
  std::string socket = "/var/run/docker.sock";
  std::string api_version = "v1.41";
  // Beyond SPEC: watch each running container's main process (pidfd) so its
  // exit is a dead verdict at once, ahead of the engine's `die` event.
  bool watch_processes = true;
};

struct Postgres {
  bool enabled = false;  // section present
  std::string dsn;       // resolved from dsn, dsn_file or HEALTHSWEEP_PG_DSN
  std::string spool_dir = "/var/lib/healthsweep/spool";
};

struct Proactive {
  Duration interval = 15s;
  Duration timeout = 5s;
  double jitter = 0.1;  // 0..1, share of interval
  int failure_threshold = 2;
  int success_threshold = 1;
};

struct Reactive {
  bool enabled = true;
  Duration coalesce_window = 2s;
};

struct Restart {
  bool enabled = true;
  RestartVia via = RestartVia::engine;
  std::string webhook_url;  // required when via == webhook
  // The first restart of an incident waits this long after `offline`, so the
  // deaths of a fleet, reported one at a time, reach the fail-safe before
  // anything restarts; 0s acts at once.
  Duration settle = 2s;
  Duration backoff_initial = 10s;
  Duration backoff_max = 5min;
  int max_restarts = 5;
  Duration window = 10min;
  Duration startup_grace = 30s;
};

struct FailSafe {
  double max_offline_fraction = 0.3;
  int min_targets = 10;
  Duration window = 60s;
};

// Several daemons over one PostgreSQL (SPEC section 3, issue 14). Each holds
// a lease in healthsweep_members, renewed every `renew_every`; one that has
// not renewed for `lease` is dead to its peers. It stops remediating itself
// after renew_deadline() without a renewal, before any peer can take over.
struct Cluster {
  bool enabled = false;     // section present
  std::string instance_id;  // default: the host name
  std::string advertise;    // default: http://<listen>
  Duration lease = 10s;
  Duration renew_every = 2s;
  // client-go leads with lease 15 s and renew deadline 10 s: two thirds.
  Duration renew_deadline() const { return lease * 2 / 3; }
};

struct Config {
  std::string source_path;  // file it was loaded from
  Endpoint listen{"127.0.0.1", 9470};
  // Open connections allowed from one client address; beyond, the listener
  // closes new ones at once (not in SPEC; README "The listener under abuse").
  int listen_max_connections_per_client = 64;
  std::string token_file;           // empty: no token configured
  std::optional<std::string> token; // read from token_file at load time
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::text;
  Targets targets;
  Redis redis;
  Engine engine;
  Postgres postgres;
  Proactive proactive;
  Reactive reactive;
  Restart restart;
  FailSafe fail_safe;
  Cluster cluster;
  Duration liveness_stale_after = 60s;
  Duration shutdown_grace = 10s;
};

// One problem, printed as "PATH:LINE:COLUMN: message" (1-based line and column).
struct ConfigError {
  std::string path;
  int line = 0;
  int column = 0;
  std::string message;
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every problem found, in document order
};

// Reads and validates a whole file; a missing or unreadable file is an error
// at 1:1 of that path.
LoadResult load_file(const std::string& path);
// Same, from text already in memory; `path` is only used in messages and to
// resolve relative file references.
LoadResult load_string(const std::string& yaml, const std::string& path);

// Frees the static target list once the daemon's fleet holds it (issue 15's
// memory: 152 bytes per target per Config copy). A swap, because clear() or
// `= {}` keeps the vector's capacity allocated.
inline void release_static_targets(Config& config) {
  std::vector<StaticTarget>().swap(config.targets.static_targets);
}

// "250ms", "15s", "5m", "1h" (also "1m30s"); nullopt on anything else.
std::optional<Duration> parse_duration(std::string_view text);
// "127.0.0.1:9470", "[::1]:9470", "localhost:80"; nullopt on anything else.
// Port 0 only where `port_zero_allowed` (a listener: the kernel picks one).
std::optional<Endpoint> parse_endpoint(std::string_view text, bool port_zero_allowed = false);

}  // namespace healthsweep::config
