// The backend sections (redis, engine, postgres: present => that layer on)
// and the policy sections (sweeps, remediation, liveness) with their
// cross-field checks.
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace healthsweep::config::detail {
namespace {

// "1m30s" for 90s: a duration as the user would have written it.
std::string format_duration(Duration d) {
  if (d == Duration::zero()) return "0s";
  std::string out;
  auto ms = d.count();
  for (const auto& [unit, size] : {std::pair{"h", 3'600'000LL}, {"m", 60'000LL}, {"s", 1'000LL}, {"ms", 1LL}}) {
    if (ms >= size) out += std::to_string(ms / size) + unit;
    ms %= size;
  }
  return out;
}

// A duration key's text as written in the file, or its (default) value.
std::string text_of(const Section& section, std::string_view key, Duration value) {
  const Field* field = section.find(key);
  return field && field->value.IsScalar() ? field->value.Scalar() : format_duration(value);
}

std::optional<Field> field_if(const Section& section, std::string_view key, bool read_ok) {
  const Field* field = section.find(key);
  if (!read_ok || !field) return std::nullopt;
  return *field;
}

// redis.sentinels and redis.master_name: both or neither (an empty list
// counts as none). Each problem is reported where the operator must look.
void read_sentinels(const Section& redis, Config& config) {
  Reader& reader = redis.reader();
  const Field* list_field = redis.find("sentinels");
  const Field* name_field = redis.find("master_name");
  if (!list_field && !name_field) return;
  std::vector<Endpoint> sentinels;
  bool sentinels_ok = true;
  for (const Field& item : redis.list("sentinels")) {
    Endpoint at;
    if (!endpoint_value(reader, item, at)) {
      sentinels_ok = false;
      continue;
    }
    for (const auto& before : sentinels)
      if (before == at) {
        reader.error(item.mark, item.name + ": " + single_quoted(item.value.Scalar()) + " is listed twice");
        sentinels_ok = false;
      }
    sentinels.push_back(std::move(at));
  }
  std::string name;
  if (name_field && !redis.string("master_name", name, /*nullable=*/true)) return;
  if (!sentinels_ok) return;
  if (name_field && !name_field->value.IsNull() && name.empty()) {
    reader.error(name_field->mark, "redis.master_name: must not be empty (the name the sentinels monitor)");
    return;
  }
  if (name_field && !name.empty()) {
    if (!list_field) {
      reader.error(name_field->key_mark, "redis.master_name: needs redis.sentinels, the sentinels to ask (a list "
                                         "of host:port)");
      return;
    }
    // A list (or null) that gave no sentinel; another kind was reported by list().
    const bool a_list = list_field->value.IsSequence() || list_field->value.IsNull();
    if (sentinels.empty() && a_list) {
      reader.error(list_field->mark, "redis.sentinels: empty, but redis.master_name " + single_quoted(name) +
                                         " needs at least one sentinel (host:port)");
      return;
    }
  } else if (list_field && !sentinels.empty()) {
    reader.error(list_field->key_mark, "redis.sentinels: needs redis.master_name, the name the sentinels monitor");
    return;
  }
  config.redis.sentinels = std::move(sentinels);
  config.redis.master_name = std::move(name);
}

// Returns the reconcile_interval field when it was set and valid.
std::optional<Field> read_redis(const Section& root, Config& config) {
  if (!root.has("redis")) return std::nullopt;
  config.redis.enabled = true;
  const Section redis = root.child("redis", {"url", "heartbeat_key", "keyspace_events", "reconcile_interval",
                                             "grace", "sentinels", "master_name"});
  read_sentinels(redis, config);
  Reader& reader = redis.reader();
  std::string url;
  if (redis.string("url", url)) {
    if (const auto problem = check_redis_url(url))
      reader.error(redis.find("url")->mark, "redis.url: invalid URL " + single_quoted(url) + ": " + *problem);
    else
      config.redis.url = url;
  }
  std::string key;
  if (redis.string("heartbeat_key", key)) {
    if (key.find("{id}") == std::string::npos)
      reader.error(redis.find("heartbeat_key")->mark,
                   "redis.heartbeat_key: must contain '{id}' (replaced by the target id), got " + single_quoted(key));
    else
      config.redis.heartbeat_key = key;
  }
  redis.boolean("keyspace_events", config.redis.keyspace_events);
  redis.duration("grace", config.redis.grace, /*allow_zero=*/false);
  const bool ok = redis.duration("reconcile_interval", config.redis.reconcile_interval, /*allow_zero=*/false);
  return field_if(redis, "reconcile_interval", ok);
}

void read_engine(const Section& root, Config& config) {
  if (!root.has("engine")) return;
  config.engine.enabled = true;
  const Section engine = root.child("engine", {"socket", "api_version", "watch_processes"});
  Reader& reader = engine.reader();
  std::string socket;
  if (engine.string("socket", socket)) {
    // DOCKER_HOST style "unix:///var/run/docker.sock" is accepted too.
    constexpr std::string_view unix_scheme = "unix://";
    if (socket.starts_with(unix_scheme)) socket.erase(0, unix_scheme.size());
    if (socket.empty())
      reader.error(engine.find("socket")->mark, "engine.socket: must name the engine's unix socket path");
    else
      config.engine.socket = reader.resolve(socket);
  }
  std::string version;
  if (engine.string("api_version", version)) {
    static const std::regex pattern("v[0-9]{1,3}\\.[0-9]{1,3}");
    if (!std::regex_match(version, pattern))
      reader.error(engine.find("api_version")->mark,
                   "engine.api_version: expected a version like 'v1.41', got " + single_quoted(version));
    else
      config.engine.api_version = version;
  }
  engine.boolean("watch_processes", config.engine.watch_processes);
}

// The DSN comes from dsn, dsn_file or HEALTHSWEEP_PG_DSN (which wins, so a
// secret can stay out of the file).
void read_postgres(const Section& root, Config& config) {
  if (!root.has("postgres")) return;
  config.postgres.enabled = true;
  const Section postgres = root.child("postgres", {"dsn", "dsn_file", "spool_dir"});
  Reader& reader = postgres.reader();
  std::string dsn;
  std::string file;
  const bool has_dsn = postgres.string("dsn", dsn, /*nullable=*/true) && !dsn.empty();
  const bool has_file = postgres.string("dsn_file", file, /*nullable=*/true) && !file.empty();
  bool file_failed = false;
  if (has_dsn && has_file) {
    reader.error(postgres.find("dsn_file")->mark, "postgres.dsn_file: set either dsn or dsn_file, not both");
  } else if (has_dsn) {
    config.postgres.dsn = dsn;
  } else if (has_file) {
    const Field& field = *postgres.find("dsn_file");
    const std::string path = reader.resolve(file);
    std::string why;
    const auto text = read_small_file(path, why);
    if (!text)
      reader.error(field.mark, "postgres.dsn_file: cannot read " + single_quoted(path) + ": " + why);
    else if (text->empty())
      reader.error(field.mark, "postgres.dsn_file: " + single_quoted(path) + " is empty");
    else
      config.postgres.dsn = *text;
    file_failed = !text || text->empty();
  }
  if (const char* env = std::getenv("HEALTHSWEEP_PG_DSN"); env && *env) config.postgres.dsn = env;
  if (config.postgres.dsn.empty() && !(has_dsn && has_file) && !file_failed)
    reader.error(postgres.key_mark(),
                 "postgres: no connection string: set dsn or dsn_file, or the environment variable "
                 "HEALTHSWEEP_PG_DSN (or remove the section to run without PostgreSQL)");
  std::string spool;
  if (postgres.string("spool_dir", spool)) {
    if (spool.empty())
      reader.error(postgres.find("spool_dir")->mark, "postgres.spool_dir: must not be empty");
    else
      config.postgres.spool_dir = reader.resolve(spool);
  }
}

// Returns the proactive interval field when it was set and valid.
std::optional<Field> read_sweeps(const Section& root, Config& config) {
  const Section sweeps = root.child("sweeps", {"proactive", "reactive"});
  const Section proactive = sweeps.child(
      "proactive", {"interval", "timeout", "jitter", "failure_threshold", "success_threshold"});
  Proactive& p = config.proactive;
  const bool interval_ok = proactive.duration("interval", p.interval, /*allow_zero=*/false);
  proactive.duration("timeout", p.timeout, /*allow_zero=*/false);
  proactive.fraction("jitter", p.jitter);
  proactive.integer("failure_threshold", p.failure_threshold, 1, 1'000'000);
  proactive.integer("success_threshold", p.success_threshold, 1, 1'000'000);

  const Section reactive = sweeps.child("reactive", {"enabled", "coalesce_window"});
  reactive.boolean("enabled", config.reactive.enabled);
  reactive.duration("coalesce_window", config.reactive.coalesce_window, /*allow_zero=*/true);
  return field_if(proactive, "interval", interval_ok);
}

// Returns whether the file sets `settle` (its default depends on `cluster`).
bool read_restart(const Section& remediation, Config& config) {
  const Section restart = remediation.child(
      "restart", {"enabled", "via", "webhook_url", "settle", "backoff_initial", "backoff_max", "max_restarts", "window",
                  "startup_grace"});
  Reader& reader = restart.reader();
  Restart& r = config.restart;
  restart.boolean("enabled", r.enabled);
  static constexpr std::string_view vias[] = {"engine", "webhook", "none"};
  int via = 0;
  const bool via_ok = restart.choice("via", vias, via);
  if (via_ok) r.via = static_cast<RestartVia>(via);
  std::string url;
  if (restart.string("webhook_url", url, /*nullable=*/true) && !url.empty()) {
    if (const auto problem = check_http_url(url))
      reader.error(restart.find("webhook_url")->mark,
                   "remediation.restart.webhook_url: invalid URL " + single_quoted(url) + ": " + *problem);
    else
      r.webhook_url = url;
  }
  if (via_ok && r.via == RestartVia::webhook && url.empty())
    reader.error(restart.find("via")->mark,
                 "remediation.restart.via: 'webhook' needs remediation.restart.webhook_url");

  restart.duration("settle", r.settle, /*allow_zero=*/true);

  // Compared only when both are valid (or default), so one typo gives one error.
  const bool initial_ok = restart.duration("backoff_initial", r.backoff_initial, /*allow_zero=*/false) ||
                          !restart.has("backoff_initial");
  const bool max_ok = restart.duration("backoff_max", r.backoff_max, /*allow_zero=*/false) ||
                      !restart.has("backoff_max");
  if (initial_ok && max_ok && r.backoff_initial > r.backoff_max) {
    const Field* at = restart.find(restart.has("backoff_initial") ? "backoff_initial" : "backoff_max");
    reader.error(at->mark, "remediation.restart.backoff_initial (" +
                               text_of(restart, "backoff_initial", r.backoff_initial) +
                               ") must not exceed backoff_max (" + text_of(restart, "backoff_max", r.backoff_max) +
                               ")");
  }
  restart.integer("max_restarts", r.max_restarts, 1, 1'000'000);
  restart.duration("window", r.window, /*allow_zero=*/false);
  restart.duration("startup_grace", r.startup_grace, /*allow_zero=*/true);
  return restart.has("settle");
}

void read_fail_safe(const Section& remediation, Config& config) {
  const Section fail_safe = remediation.child("fail_safe", {"max_offline_fraction", "min_targets", "window"});
  fail_safe.fraction("max_offline_fraction", config.fail_safe.max_offline_fraction);
  fail_safe.integer("min_targets", config.fail_safe.min_targets, 0, 100'000'000);
  fail_safe.duration("window", config.fail_safe.window, /*allow_zero=*/false);
}

// cluster: needs postgres (the leases live there); renew_every must leave room
// for two renewals within the renew deadline, or one slow renewal fences.
void read_cluster(const Section& root, Config& config) {
  if (!root.has("cluster")) return;
  const Section cluster = root.child("cluster", {"instance_id", "advertise", "lease", "renew_every"});
  Reader& reader = cluster.reader();
  Cluster& c = config.cluster;
  c.enabled = true;
  if (!config.postgres.enabled)
    reader.error(cluster.key_mark(), "cluster: needs the postgres section (the instances' leases live there)");
  std::string id;
  if (cluster.string("instance_id", id, /*nullable=*/true) && cluster.has("instance_id") &&
      !cluster.find("instance_id")->value.IsNull()) {
    static const std::regex allowed("[A-Za-z0-9][A-Za-z0-9._:-]{0,62}");
    if (!std::regex_match(id, allowed))
      reader.error(cluster.find("instance_id")->mark,
                   "cluster.instance_id: " + single_quoted(id) +
                       " must be 1 to 63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
    else
      c.instance_id = id;
  }
  if (c.instance_id.empty()) {  // the host name, as SPEC says
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0]) c.instance_id = host;
    else reader.error(cluster.key_mark(), "cluster.instance_id: not set and the host name is unknown");
  }
  std::string url;
  if (cluster.string("advertise", url, /*nullable=*/true) && !url.empty()) {
    if (const auto problem = check_http_url(url))
      reader.error(cluster.find("advertise")->mark,
                   "cluster.advertise: invalid URL " + single_quoted(url) + ": " + *problem);
    else
      c.advertise = url;
  }
  const bool lease_ok = cluster.duration("lease", c.lease, /*allow_zero=*/false) || !cluster.has("lease");
  const bool renew_ok =
      cluster.duration("renew_every", c.renew_every, /*allow_zero=*/false) || !cluster.has("renew_every");
  if (lease_ok && renew_ok && c.renew_every * 2 > c.renew_deadline()) {
    const Field* at = cluster.find(cluster.has("renew_every") ? "renew_every" : "lease");
    if (!at) at = cluster.find("lease");
    reader.error(at ? at->mark : cluster.key_mark(),
                 "cluster.renew_every (" + text_of(cluster, "renew_every", c.renew_every) +
                     ") must be at most a third of cluster.lease (" + text_of(cluster, "lease", c.lease) +
                     "): an instance fences itself after two thirds of the lease without a renewal");
  }
}

// A subsystem that ticks less often than stale_after would always be stale,
// and the systemd watchdog would never be fed. `proactive` and `reconcile`
// are the fields that set those ticks, when present in the file.
void read_liveness(const Section& root, const std::optional<Field>& proactive,
                   const std::optional<Field>& reconcile, Config& config) {
  const Section liveness = root.child("liveness", {"stale_after"});
  if (!liveness.duration("stale_after", config.liveness_stale_after, /*allow_zero=*/false) &&
      liveness.has("stale_after"))
    return;
  const Field* stale = liveness.find("stale_after");
  auto check = [&](Duration tick, const std::optional<Field>& tick_field, std::string_view tick_name) {
    if (config.liveness_stale_after > tick) return true;
    const Field* at = stale ? stale : tick_field ? &*tick_field : nullptr;
    if (!at) return true;  // both defaults
    const std::string stale_text = stale ? stale->value.Scalar() : format_duration(config.liveness_stale_after);
    const std::string tick_text = tick_field ? tick_field->value.Scalar() : format_duration(tick);
    liveness.reader().error(at->mark, "liveness.stale_after (" + stale_text + ") must be longer than " +
                                          std::string(tick_name) + " (" + tick_text +
                                          "), or that subsystem is always stale");
    return false;
  };
  // The proactive layer runs only with an engine or HTTP/TCP checks to do.
  bool proactive_in_use = config.engine.enabled;
  for (const auto& t : config.targets.static_targets)
    proactive_in_use = proactive_in_use || !t.http.empty() || t.tcp.has_value();
  if ((!proactive_in_use || check(config.proactive.interval, proactive, "sweeps.proactive.interval")) &&
      config.redis.enabled)
    check(config.redis.reconcile_interval, reconcile, "redis.reconcile_interval");
}

}  // namespace

void read_sections(const Section& root, Config& config) {
  const auto reconcile = read_redis(root, config);
  read_engine(root, config);
  read_postgres(root, config);
  const auto interval = read_sweeps(root, config);
  const Section remediation = root.child("remediation", {"restart", "fail_safe"});
  const bool settle_given = read_restart(remediation, config);
  read_fail_safe(remediation, config);
  read_cluster(root, config);
  // With peers, a restart must wait until their offline counts can have
  // arrived (each publishes with its renewal, each reads with its own: up to
  // 2 x renew_every), or the fleet-wide fail-safe comes too late for the
  // first restarts of a burst. A settle the file sets is kept (the daemon
  // warns when it is shorter).
  if (config.cluster.enabled && !settle_given)
    config.restart.settle = std::max(config.restart.settle, 2 * config.cluster.renew_every);
  read_liveness(root, interval, reconcile, config);
}

}  // namespace healthsweep::config::detail
