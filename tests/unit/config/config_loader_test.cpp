// Loading whole files: the shipped config, every key of the schema, defaults,
// files the config refers to (token, DSN) and relative path resolution.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "tests/unit/config/config_test_env.hpp"
#include "tests/support/process.hpp"

namespace healthsweep::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using healthsweep::testing::TempDir;

class ConfigLoader : public WithoutPgDsnEnv {};

std::string all_errors(const LoadResult& result) {
  std::string out;
  for (const auto& e : result.errors) out += e.to_string() + "\n";
  return out;
}

std::vector<std::string> error_lines(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.errors) out.push_back(e.to_string());
  return out;
}

TEST_F(ConfigLoader, ShippedConfigLoadsWithEveryOptionalLayerOff) {
  const std::string path = std::string(HS_SOURCE_DIR) + "/config/healthsweep.yaml";
  const LoadResult result = load_file(path);
  ASSERT_TRUE(result.config) << all_errors(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.source_path, path);
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 9470);
  EXPECT_EQ(c.log_level, LogLevel::info);
  EXPECT_EQ(c.log_format, LogFormat::text);
  EXPECT_TRUE(c.targets.static_targets.empty());
  EXPECT_EQ(c.targets.engine_label, "healthsweep.target");
  EXPECT_FALSE(c.targets.postgres_query);
  EXPECT_TRUE(c.token_file.empty());
  EXPECT_FALSE(c.token);
  EXPECT_FALSE(c.redis.enabled);
  EXPECT_FALSE(c.engine.enabled);
  EXPECT_FALSE(c.postgres.enabled);
  EXPECT_EQ(c.restart.via, RestartVia::engine);
}

TEST_F(ConfigLoader, EveryKeyOfTheSchemaLoads) {
  TempDir dir;
  dir.write("token", "s3cret-token\n\n");
  const std::string path = dir.write("hs.yaml", R"(
listen: "[::1]:9555"
auth:
  token_file: token
log: {level: debug, format: json}
targets:
  static:
    - id: ws-1
      container: ws-1
      http: "https://127.0.0.1:8443/health"
      tcp: "127.0.0.1:5432"
      paused: true
    - id: "agent:2.b_c"
  engine_label: example.target
  postgres_query: "select id, container from workspaces"
  targets_refresh: 45s
redis:
  url: "redis://:pw@127.0.0.1:6380/3"
  heartbeat_key: "hb:{id}"
  keyspace_events: false
  reconcile_interval: 20s
  grace: 2m
engine:
  socket: "unix:///run/podman/podman.sock"
  api_version: "v1.40"
  watch_processes: false
postgres:
  dsn: "host=127.0.0.1 dbname=hs"
  spool_dir: spool
sweeps:
  proactive: { interval: 5s, timeout: 2s, jitter: 0.25, failure_threshold: 3, success_threshold: 2 }
  reactive: { enabled: false, coalesce_window: 500ms }
remediation:
  restart:
    enabled: false
    via: webhook
    webhook_url: "http://127.0.0.1:9000/restart"
    settle: 750ms
    backoff_initial: 1s
    backoff_max: 1m30s
    max_restarts: 7
    window: 1h
    startup_grace: 0s
  fail_safe:
    max_offline_fraction: 0.5
    min_targets: 0
    window: 2m
liveness:
  stale_after: 90s
shutdown_grace: 3s
)");
  const LoadResult result = load_file(path);
  ASSERT_TRUE(result.config) << all_errors(result);
  const Config& c = *result.config;
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 9555);
  EXPECT_EQ(c.token_file, dir.path() + "/token");
  EXPECT_EQ(c.token, "s3cret-token");
  EXPECT_EQ(c.log_level, LogLevel::debug);
  EXPECT_EQ(c.log_format, LogFormat::json);

  ASSERT_EQ(c.targets.static_targets.size(), 2u);
  const StaticTarget& ws1 = c.targets.static_targets[0];
  EXPECT_EQ(ws1.id, "ws-1");
  EXPECT_EQ(ws1.container, "ws-1");
  EXPECT_EQ(ws1.http, "https://127.0.0.1:8443/health");
  ASSERT_TRUE(ws1.tcp);
  EXPECT_EQ(ws1.tcp->host, "127.0.0.1");
  EXPECT_EQ(ws1.tcp->port, 5432);
  EXPECT_TRUE(ws1.paused);
  const StaticTarget& second = c.targets.static_targets[1];
  EXPECT_EQ(second.id, "agent:2.b_c");
  EXPECT_TRUE(second.container.empty());
  EXPECT_TRUE(second.http.empty());
  EXPECT_FALSE(second.tcp);
  EXPECT_FALSE(second.paused);
  EXPECT_EQ(c.targets.engine_label, "example.target");
  EXPECT_EQ(c.targets.postgres_query, "select id, container from workspaces");
  EXPECT_EQ(c.targets.targets_refresh, 45s);

  EXPECT_TRUE(c.redis.enabled);
  EXPECT_EQ(c.redis.url, "redis://:pw@127.0.0.1:6380/3");
  EXPECT_EQ(c.redis.heartbeat_key, "hb:{id}");
  EXPECT_FALSE(c.redis.keyspace_events);
  EXPECT_EQ(c.redis.reconcile_interval, 20s);
  EXPECT_EQ(c.redis.grace, 2min);
  EXPECT_TRUE(c.engine.enabled);
  EXPECT_EQ(c.engine.socket, "/run/podman/podman.sock");
  EXPECT_EQ(c.engine.api_version, "v1.40");
  EXPECT_FALSE(c.engine.watch_processes);
  EXPECT_TRUE(c.postgres.enabled);
  EXPECT_EQ(c.postgres.dsn, "host=127.0.0.1 dbname=hs");
  EXPECT_EQ(c.postgres.spool_dir, dir.path() + "/spool");

  EXPECT_EQ(c.proactive.interval, 5s);
  EXPECT_EQ(c.proactive.timeout, 2s);
  EXPECT_DOUBLE_EQ(c.proactive.jitter, 0.25);
  EXPECT_EQ(c.proactive.failure_threshold, 3);
  EXPECT_EQ(c.proactive.success_threshold, 2);
  EXPECT_FALSE(c.reactive.enabled);
  EXPECT_EQ(c.reactive.coalesce_window, 500ms);

  EXPECT_FALSE(c.restart.enabled);
  EXPECT_EQ(c.restart.via, RestartVia::webhook);
  EXPECT_EQ(c.restart.webhook_url, "http://127.0.0.1:9000/restart");
  EXPECT_EQ(c.restart.settle, 750ms);
  EXPECT_EQ(c.restart.backoff_initial, 1s);
  EXPECT_EQ(c.restart.backoff_max, 90s);
  EXPECT_EQ(c.restart.max_restarts, 7);
  EXPECT_EQ(c.restart.window, 1h);
  EXPECT_EQ(c.restart.startup_grace, 0s);
  EXPECT_DOUBLE_EQ(c.fail_safe.max_offline_fraction, 0.5);
  EXPECT_EQ(c.fail_safe.min_targets, 0);
  EXPECT_EQ(c.fail_safe.window, 2min);
  EXPECT_EQ(c.liveness_stale_after, 90s);
  EXPECT_EQ(c.shutdown_grace, 3s);
}

TEST_F(ConfigLoader, AbsentKeysKeepTheDefaultsAndSectionsSwitchLayersOn) {
  const LoadResult result = load_string("listen: \"127.0.0.1:1\"\nredis:\nengine: {}\n", "cfg.yaml");
  ASSERT_TRUE(result.config) << all_errors(result);
  const Config& c = *result.config;
  const Config defaults;
  EXPECT_TRUE(c.redis.enabled);  // present, even empty: on, with default values
  EXPECT_EQ(c.redis.url, defaults.redis.url);
  EXPECT_EQ(c.redis.grace, 60s) << "SPEC's production TTL";
  EXPECT_TRUE(c.engine.enabled);
  EXPECT_EQ(c.engine.socket, defaults.engine.socket);
  EXPECT_FALSE(c.postgres.enabled);
  EXPECT_EQ(c.proactive.interval, defaults.proactive.interval);
  EXPECT_EQ(c.restart.backoff_max, defaults.restart.backoff_max);
  EXPECT_EQ(c.restart.settle, 2s) << "SPEC section 3: settle defaults to 2s";
  EXPECT_EQ(c.fail_safe.min_targets, defaults.fail_safe.min_targets);
  EXPECT_EQ(c.shutdown_grace, defaults.shutdown_grace);
}

TEST_F(ConfigLoader, SettleZeroMeansRestartAtOnce) {
  const LoadResult result = load_string("remediation:\n  restart:\n    settle: 0s\n", "cfg.yaml");
  ASSERT_TRUE(result.config) << all_errors(result);
  EXPECT_EQ(result.config->restart.settle, 0s);
}

TEST_F(ConfigLoader, ListenOnPortZeroLetsTheKernelPick) {
  const LoadResult result = load_string("listen: \"127.0.0.1:0\"\n", "cfg.yaml");
  ASSERT_TRUE(result.config) << all_errors(result);
  EXPECT_EQ(result.config->listen.port, 0);
}

TEST_F(ConfigLoader, OptionalKeysMayBeNull) {
  const LoadResult result = load_string(
      "auth:\n  token_file: null\ntargets:\n  static: null\n  postgres_query: null\n  engine_label: ~\n"
      "remediation:\n  restart:\n    webhook_url: null\n",
      "cfg.yaml");
  ASSERT_TRUE(result.config) << all_errors(result);
  EXPECT_FALSE(result.config->token);
  EXPECT_FALSE(result.config->targets.postgres_query);
  EXPECT_TRUE(result.config->targets.engine_label.empty());  // no engine discovery
  EXPECT_TRUE(result.config->restart.webhook_url.empty());
}

TEST_F(ConfigLoader, TokenFileProblemsAreReportedAtTheTokenFileNode) {
  TempDir dir;
  dir.write("empty", "\n  \n");
  dir.write("two-words", "abc def\n");
  const std::string yaml_missing = "auth:\n  token_file: missing-token\n";
  EXPECT_THAT(error_lines(load_string(yaml_missing, dir.file("hs.yaml"))),
              ElementsAre("" + dir.file("hs.yaml") + ":2:15: auth.token_file: cannot read token file '" +
                          dir.path() + "/missing-token': No such file or directory"));
  EXPECT_THAT(error_lines(load_string("auth:\n  token_file: empty\n", dir.file("hs.yaml"))),
              ElementsAre(dir.file("hs.yaml") + ":2:15: auth.token_file: token file '" + dir.path() +
                          "/empty' is empty"));
  EXPECT_THAT(error_lines(load_string("auth:\n  token_file: two-words\n", dir.file("hs.yaml"))),
              ElementsAre(HasSubstr(":2:15: auth.token_file: token in")));
  EXPECT_THAT(error_lines(load_string("auth:\n  token_file: .\n", dir.file("hs.yaml"))),
              ElementsAre(dir.file("hs.yaml") + ":2:15: auth.token_file: cannot read token file '" +
                          dir.path() + "': is a directory"));
}

// Root reads files whatever their mode, so as root the load runs in a child
// that has dropped to nobody: the permission check itself is what is tested.
std::vector<std::string> errors_as_nobody(const std::string& yaml, const std::string& path) {
  if (::geteuid() != 0) return error_lines(load_string(yaml, path));
  int fds[2];
  if (::pipe(fds) != 0) return {"pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    std::string out;
    for (const auto& line : error_lines(load_string(yaml, path))) out += line + "\n";
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::vector<std::string> lines;
  for (std::size_t start = 0, nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  return lines;
}

TEST_F(ConfigLoader, UnreadableTokenFileIsAnError) {
  TempDir dir;
  const std::string token = dir.write("token", "abc\n");
  ASSERT_EQ(::chmod(token.c_str(), 0), 0);
  EXPECT_THAT(errors_as_nobody("auth:\n  token_file: " + token + "\n", dir.file("hs.yaml")),
              ElementsAre(HasSubstr(":2:15: auth.token_file: cannot read token file '" + token +
                                    "': Permission denied")));
}

TEST_F(ConfigLoader, RelativePathsResolveAgainstTheConfigDirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("sub"));
  dir.write("sub/token", "tok\n");
  dir.write("sub/pg.dsn", "host=/tmp dbname=x\n");
  const std::string path = dir.write("sub/hs.yaml",
                                     "auth:\n  token_file: token\n"
                                     "postgres:\n  dsn_file: ./pg.dsn\n  spool_dir: ../spool\n"
                                     "engine:\n  socket: run/engine.sock\n");
  const LoadResult result = load_file(path);
  ASSERT_TRUE(result.config) << all_errors(result);
  EXPECT_EQ(result.config->token_file, dir.path() + "/sub/token");
  EXPECT_EQ(result.config->token, "tok");
  EXPECT_EQ(result.config->postgres.dsn, "host=/tmp dbname=x");
  EXPECT_EQ(result.config->postgres.spool_dir, dir.path() + "/spool");
  EXPECT_EQ(result.config->engine.socket, dir.path() + "/sub/run/engine.sock");
  // Absolute paths stay as they are.
  const LoadResult absolute = load_string("auth:\n  token_file: " + dir.path() + "/sub/token\n", "/elsewhere/hs.yaml");
  ASSERT_TRUE(absolute.config) << all_errors(absolute);
  EXPECT_EQ(absolute.config->token_file, dir.path() + "/sub/token");
}

TEST_F(ConfigLoader, DsnFileProblems) {
  TempDir dir;
  dir.write("blank.dsn", "\n");
  EXPECT_THAT(error_lines(load_string("postgres:\n  dsn_file: nope.dsn\n", dir.file("hs.yaml"))),
              ElementsAre(dir.file("hs.yaml") + ":2:13: postgres.dsn_file: cannot read '" + dir.path() +
                          "/nope.dsn': No such file or directory"));
  EXPECT_THAT(error_lines(load_string("postgres:\n  dsn_file: blank.dsn\n", dir.file("hs.yaml"))),
              ElementsAre(dir.file("hs.yaml") + ":2:13: postgres.dsn_file: '" + dir.path() + "/blank.dsn' is empty"));
}

TEST_F(ConfigLoader, EnvironmentDsnSuppliesAndOverrides) {
  ::setenv("HEALTHSWEEP_PG_DSN", "host=/run/pg dbname=env", 1);
  const LoadResult supplied = load_string("postgres:\n  spool_dir: /tmp/spool\n", "cfg.yaml");
  ASSERT_TRUE(supplied.config) << all_errors(supplied);
  EXPECT_TRUE(supplied.config->postgres.enabled);
  EXPECT_EQ(supplied.config->postgres.dsn, "host=/run/pg dbname=env");
  const LoadResult overridden = load_string("postgres:\n  dsn: \"host=file\"\n", "cfg.yaml");
  ASSERT_TRUE(overridden.config) << all_errors(overridden);
  EXPECT_EQ(overridden.config->postgres.dsn, "host=/run/pg dbname=env");
  // Without the section the environment does not switch the store on.
  const LoadResult absent = load_string("listen: \"127.0.0.1:1\"\n", "cfg.yaml");
  ASSERT_TRUE(absent.config) << all_errors(absent);
  EXPECT_FALSE(absent.config->postgres.enabled);
}

TEST_F(ConfigLoader, UnixRedisUrlAndWebhookRestart) {
  const LoadResult result = load_string(
      "redis:\n  url: \"unix:///run/redis/redis.sock\"\n"
      "remediation:\n  restart:\n    via: webhook\n    webhook_url: \"https://ops.example.com/restart?x=1\"\n",
      "cfg.yaml");
  ASSERT_TRUE(result.config) << all_errors(result);
  EXPECT_EQ(result.config->redis.url, "unix:///run/redis/redis.sock");
  EXPECT_EQ(result.config->restart.via, RestartVia::webhook);
}

TEST_F(ConfigLoader, ErrorsMeanNoConfig) {
  const LoadResult result = load_string("listen: nowhere\n", "cfg.yaml");
  EXPECT_FALSE(result.config);
  EXPECT_THAT(error_lines(result), ElementsAre(StartsWith("cfg.yaml:1:9: listen: invalid host:port 'nowhere'")));
}

TEST_F(ConfigLoader, ListenMaxConnectionsPerClientDefaultsTo64AndIsBounded) {
  const LoadResult absent = load_string("listen: \"127.0.0.1:1\"\n", "cfg.yaml");
  ASSERT_TRUE(absent.config) << all_errors(absent);
  EXPECT_EQ(absent.config->listen_max_connections_per_client, 64);
  const LoadResult set = load_string("listen_max_connections_per_client: 500\n", "cfg.yaml");
  ASSERT_TRUE(set.config) << all_errors(set);
  EXPECT_EQ(set.config->listen_max_connections_per_client, 500);
  EXPECT_THAT(error_lines(load_string("listen_max_connections_per_client: 0\n", "cfg.yaml")),
              ElementsAre(StartsWith("cfg.yaml:1:36: listen_max_connections_per_client: must be between 1 and")));
}

}  // namespace
}  // namespace healthsweep::config
