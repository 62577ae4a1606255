// Every kind of configuration problem, with the exact PATH:LINE:COLUMN line
// an operator sees, and several problems reported in one pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/unit/config/config_test_env.hpp"

namespace healthsweep::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ConfigErrors : public WithoutPgDsnEnv {};

TEST_F(ConfigErrors, UnknownKeySuggestsTheCloseOne) {
  EXPECT_THAT(errors_of("listen: \"127.0.0.1:9470\"\n"
                        "sweeps:\n"
                        "  proactive:\n"
                        "    intervall: 5s\n"),
              ElementsAre("cfg.yaml:4:5: unknown key 'intervall' in sweeps.proactive; did you mean 'interval'?"));
  EXPECT_THAT(errors_of("listn: \"127.0.0.1:9470\"\n"),
              ElementsAre("cfg.yaml:1:1: unknown key 'listn'; did you mean 'listen'?"));
  EXPECT_THAT(errors_of("sweeps:\n  proactive:\n    timoeut: 1s\n"),
              ElementsAre("cfg.yaml:3:5: unknown key 'timoeut' in sweeps.proactive; did you mean 'timeout'?"));
}

TEST_F(ConfigErrors, UnknownKeyFarFromAnyListsTheKnownOnes) {
  const auto errors = errors_of("log:\n  level: info\n  colour: true\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "cfg.yaml:3:3: unknown key 'colour' in log (known keys: level, format)");
}

TEST_F(ConfigErrors, DuplicateKeyPointsAtTheSecond) {
  EXPECT_THAT(errors_of("log:\n  level: info\n  level: debug\n"),
              ElementsAre("cfg.yaml:3:3: duplicate key 'level' in log (first at line 2)"));
}

TEST_F(ConfigErrors, WrongTypes) {
  EXPECT_THAT(errors_of("listen: {host: x}\n"), ElementsAre("cfg.yaml:1:9: listen: expected host:port, got a map"));
  EXPECT_THAT(errors_of("sweeps:\n  proactive:\n    failure_threshold: abc\n"),
              ElementsAre("cfg.yaml:3:24: sweeps.proactive.failure_threshold: expected an integer, got 'abc'"));
  EXPECT_THAT(errors_of("sweeps:\n  reactive:\n    enabled: maybe\n"),
              ElementsAre("cfg.yaml:3:14: sweeps.reactive.enabled: expected true or false, got 'maybe'"));
  EXPECT_THAT(errors_of("sweeps: [1, 2]\n"), ElementsAre("cfg.yaml:1:9: sweeps: expected a map, got a list"));
  EXPECT_THAT(errors_of("targets:\n  static: ws-1\n"),
              ElementsAre("cfg.yaml:2:11: targets.static: expected a list, got a scalar"));
  EXPECT_THAT(errors_of("shutdown_grace: [10s]\n"),
              ElementsAre("cfg.yaml:1:17: shutdown_grace: expected a duration like '15s', got a list"));
  EXPECT_THAT(errors_of("remediation:\n  fail_safe:\n    max_offline_fraction: lots\n"),
              ElementsAre("cfg.yaml:3:27: remediation.fail_safe.max_offline_fraction: expected a number between 0 "
                          "and 1, got 'lots'"));
  EXPECT_THAT(errors_of("just a string\n"), ElementsAre("cfg.yaml:1:1: top level: expected a map, got a scalar"));
}

TEST_F(ConfigErrors, NullWhereAValueIsRequiredPointsAtTheKey) {
  EXPECT_THAT(errors_of("sweeps:\n  proactive:\n    interval:\n    timeout: 1s\n"),
              ElementsAre("cfg.yaml:3:5: sweeps.proactive.interval: expected a duration like '15s', got null"));
}

TEST_F(ConfigErrors, BadDurations) {
  EXPECT_THAT(errors_of("shutdown_grace: 15\n"),
              ElementsAre("cfg.yaml:1:17: shutdown_grace: invalid duration '15': missing unit (ms, s, m, h), "
                          "e.g. '15s'"));
  EXPECT_THAT(errors_of("shutdown_grace: 1x\n"),
              ElementsAre("cfg.yaml:1:17: shutdown_grace: invalid duration '1x': expected whole numbers with "
                          "units ms, s, m, h, e.g. '250ms', '15s', '1m30s'"));
  EXPECT_THAT(errors_of("shutdown_grace: -1s\n"),
              ElementsAre("cfg.yaml:1:17: shutdown_grace: must not be negative, got '-1s'"));
  EXPECT_THAT(errors_of("shutdown_grace: 1000h\n"),
              ElementsAre("cfg.yaml:1:17: shutdown_grace: must be at most 720h (30 days), got '1000h'"));
}

TEST_F(ConfigErrors, OutOfRangeValues) {
  EXPECT_THAT(errors_of("sweeps:\n"
                        "  proactive:\n"
                        "    interval: 0s\n"
                        "    jitter: 1.5\n"
                        "    failure_threshold: 0\n"
                        "    success_threshold: 99999999999999999999\n"),
              ElementsAre("cfg.yaml:3:15: sweeps.proactive.interval: must be greater than 0, got '0s'",
                          "cfg.yaml:4:13: sweeps.proactive.jitter: must be between 0 and 1, got '1.5'",
                          "cfg.yaml:5:24: sweeps.proactive.failure_threshold: must be between 1 and 1000000, got '0'",
                          "cfg.yaml:6:24: sweeps.proactive.success_threshold: must be between 1 and 1000000, got "
                          "'99999999999999999999'"));
  EXPECT_THAT(errors_of("remediation:\n  fail_safe:\n    max_offline_fraction: -0.1\n    min_targets: -1\n"),
              ElementsAre("cfg.yaml:3:27: remediation.fail_safe.max_offline_fraction: must be between 0 and 1, got "
                          "'-0.1'",
                          "cfg.yaml:4:18: remediation.fail_safe.min_targets: must be between 0 and 100000000, got '-1'"));
  EXPECT_THAT(errors_of("redis:\n  grace: 0s\n"),
              ElementsAre("cfg.yaml:2:10: redis.grace: must be greater than 0, got '0s'"));
  EXPECT_THAT(errors_of("sweeps:\n  proactive:\n    jitter: .nan\n"),
              ElementsAre("cfg.yaml:3:13: sweeps.proactive.jitter: expected a number between 0 and 1, got '.nan'"));
}

TEST_F(ConfigErrors, BackoffInitialAboveMax) {
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    backoff_initial: 10m\n    backoff_max: 1m\n"),
              ElementsAre("cfg.yaml:3:22: remediation.restart.backoff_initial (10m) must not exceed backoff_max (1m)"));
  // Against the default backoff_max (5m) when only one is given.
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    backoff_initial: 6m\n"),
              ElementsAre("cfg.yaml:3:22: remediation.restart.backoff_initial (6m) must not exceed backoff_max (5m)"));
  // One typo, one error: no comparison against a value that did not parse.
  EXPECT_EQ(errors_of("remediation:\n  restart:\n    backoff_initial: 10m\n    backoff_max: soon\n").size(), 1u);
}

TEST_F(ConfigErrors, SettleMustBeANonNegativeDuration) {
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    settle: -1s\n"),
              ElementsAre("cfg.yaml:3:13: remediation.restart.settle: must not be negative, got '-1s'"));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    settle: soon\n"),
              ElementsAre(StartsWith("cfg.yaml:3:13: remediation.restart.settle: invalid duration 'soon'")));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    settle: 2\n"),
              ElementsAre(StartsWith("cfg.yaml:3:13: remediation.restart.settle: invalid duration '2': missing unit")));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    setle: 1s\n"),
              ElementsAre("cfg.yaml:3:5: unknown key 'setle' in remediation.restart; did you mean 'settle'?"));
}

TEST_F(ConfigErrors, StaleAfterMustOutlastTheTicks) {
  EXPECT_THAT(errors_of("engine: {}\nsweeps:\n  proactive:\n    interval: 2m\n"),
              ElementsAre("cfg.yaml:4:15: liveness.stale_after (1m) must be longer than sweeps.proactive.interval "
                          "(2m), or that subsystem is always stale"));
  EXPECT_THAT(errors_of("engine: {}\nliveness:\n  stale_after: 10s\n"),
              ElementsAre("cfg.yaml:3:16: liveness.stale_after (10s) must be longer than sweeps.proactive.interval "
                          "(15s), or that subsystem is always stale"));
  EXPECT_THAT(errors_of("redis:\n  reconcile_interval: 30s\nliveness:\n  stale_after: 20s\n"),
              ElementsAre("cfg.yaml:4:16: liveness.stale_after (20s) must be longer than redis.reconcile_interval "
                          "(30s), or that subsystem is always stale"));
  // Without an engine or HTTP/TCP targets the proactive interval does not
  // matter; without the redis section its interval does not.
  EXPECT_THAT(errors_of("liveness:\n  stale_after: 5s\n"), ElementsAre());
  EXPECT_THAT(errors_of("liveness:\n  stale_after: 20s\n"), ElementsAre());
  EXPECT_THAT(errors_of("redis:\n  reconcile_interval: 90s\n"),
              ElementsAre("cfg.yaml:2:23: liveness.stale_after (1m) must be longer than redis.reconcile_interval "
                          "(90s), or that subsystem is always stale"));
}

TEST_F(ConfigErrors, InvalidEnumValues) {
  EXPECT_THAT(errors_of("log:\n  level: verbose\n  format: xml\n"),
              ElementsAre("cfg.yaml:2:10: log.level: invalid value 'verbose' (expected one of: trace, debug, info, "
                          "warn, error)",
                          "cfg.yaml:3:11: log.format: invalid value 'xml' (expected one of: text, json)"));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    via: pigeon\n"),
              ElementsAre("cfg.yaml:3:10: remediation.restart.via: invalid value 'pigeon' (expected one of: engine, "
                          "webhook, none)"));
}

TEST_F(ConfigErrors, InvalidUrls) {
  EXPECT_THAT(errors_of("redis:\n  url: \"http://127.0.0.1:6379\"\n"),
              ElementsAre("cfg.yaml:2:8: redis.url: invalid URL 'http://127.0.0.1:6379': must start with redis:// "
                          "or unix://"));
  EXPECT_THAT(errors_of("redis:\n  url: \"rediss://127.0.0.1:6380/0\"\n"),
              ElementsAre("cfg.yaml:2:8: redis.url: invalid URL 'rediss://127.0.0.1:6380/0': rediss:// (TLS) is not "
                          "supported: use redis:// or unix://"));
  EXPECT_THAT(errors_of("redis:\n  url: \"redis://127.0.0.1:99999/0\"\n"),
              ElementsAre(HasSubstr("cfg.yaml:2:8: redis.url: invalid URL 'redis://127.0.0.1:99999/0': invalid port")));
  EXPECT_THAT(errors_of("redis:\n  url: \"redis://127.0.0.1/zero\"\n"),
              ElementsAre(HasSubstr("cfg.yaml:2:8: redis.url: invalid URL 'redis://127.0.0.1/zero': invalid database")));
  EXPECT_THAT(errors_of("redis:\n  url: \"unix://\"\n"), ElementsAre(StartsWith("cfg.yaml:2:8: redis.url: invalid URL")));
  EXPECT_THAT(errors_of("targets:\n  static:\n    - id: a\n      http: \"ftp://h/x\"\n"),
              ElementsAre("cfg.yaml:4:13: targets.static[0].http: invalid URL 'ftp://h/x': must start with http:// or "
                          "https://"));
  EXPECT_THAT(errors_of("targets:\n  static:\n    - id: a\n      http: \"http:///health\"\n"),
              ElementsAre("cfg.yaml:4:13: targets.static[0].http: invalid URL 'http:///health': no host"));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    via: webhook\n    webhook_url: \"not a url\"\n"),
              ElementsAre("cfg.yaml:4:18: remediation.restart.webhook_url: invalid URL 'not a url': not an absolute "
                          "URL"));
}

TEST_F(ConfigErrors, WebhookRestartNeedsAUrl) {
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    via: webhook\n    webhook_url: null\n"),
              ElementsAre("cfg.yaml:3:10: remediation.restart.via: 'webhook' needs remediation.restart.webhook_url"));
  EXPECT_THAT(errors_of("remediation:\n  restart:\n    via: webhook\n"),
              ElementsAre("cfg.yaml:3:10: remediation.restart.via: 'webhook' needs remediation.restart.webhook_url"));
}

TEST_F(ConfigErrors, InvalidHostPort) {
  EXPECT_THAT(errors_of("listen: \"1.2.3.4\"\n"),
              ElementsAre("cfg.yaml:1:9: listen: invalid host:port '1.2.3.4': missing ':port'"));
  EXPECT_THAT(errors_of("listen: \"host:99999\"\n"),
              ElementsAre("cfg.yaml:1:9: listen: invalid host:port 'host:99999': port '99999' is not a number in "
                          "1-65535"));
  EXPECT_THAT(errors_of("listen: \":80\"\n"),
              ElementsAre("cfg.yaml:1:9: listen: invalid host:port ':80': missing host before ':'"));
  EXPECT_THAT(errors_of("listen: \"bad_host:80\"\n"),
              ElementsAre("cfg.yaml:1:9: listen: invalid host:port 'bad_host:80': invalid host 'bad_host'"));
  // Port 0 is for the listener only: a target on port 0 is a typo.
  EXPECT_THAT(errors_of("targets:\n  static:\n    - {id: a, tcp: \"127.0.0.1:0\"}\n"),
              ElementsAre("cfg.yaml:3:20: targets.static[0].tcp: invalid host:port '127.0.0.1:0': port '0' is not a "
                          "number in 1-65535"));
  EXPECT_THAT(errors_of("targets:\n  static:\n    - {id: a, tcp: \"::1:80\"}\n"),
              ElementsAre("cfg.yaml:3:20: targets.static[0].tcp: invalid host:port '::1:80': invalid host '::1' (IPv6 "
                          "needs brackets: [::1]:80)"));
}

TEST_F(ConfigErrors, StaticTargets) {
  EXPECT_THAT(errors_of("targets:\n"
                        "  static:\n"
                        "    - id: ws-1\n"
                        "    - container: ws-2\n"
                        "    - id: ws-1\n"
                        "    - id: \"bad id\"\n"
                        "    - id: ws-5\n"
                        "      container: \"/ws-5\"\n"
                        "      paused: sometimes\n"
                        "    - ws-6\n"),
              ElementsAre("cfg.yaml:4:7: targets.static[1]: missing required key 'id'",
                          "cfg.yaml:5:11: targets.static[2].id: duplicate target id 'ws-1' (first at line 3)",
                          "cfg.yaml:6:11: targets.static[3].id: invalid target id 'bad id' (1-128 characters of A-Z "
                          "a-z 0-9 . _ : -)",
                          "cfg.yaml:8:18: targets.static[4].container: invalid container name '/ws-5' (letters, "
                          "digits, '_', '.', '-'; starting with a letter or digit)",
                          "cfg.yaml:9:15: targets.static[4].paused: expected true or false, got 'sometimes'",
                          "cfg.yaml:10:7: targets.static[5]: expected a map, got a scalar"));
}

TEST_F(ConfigErrors, PostgresNeedsAConnectionString) {
  EXPECT_THAT(errors_of("listen: \"127.0.0.1:9470\"\npostgres:\n  spool_dir: /tmp/spool\n"),
              ElementsAre("cfg.yaml:2:1: postgres: no connection string: set dsn or dsn_file, or the environment "
                          "variable HEALTHSWEEP_PG_DSN (or remove the section to run without PostgreSQL)"));
  EXPECT_THAT(errors_of("postgres:\n  dsn: \"host=x\"\n  dsn_file: pg.dsn\n"),
              ElementsAre("cfg.yaml:3:13: postgres.dsn_file: set either dsn or dsn_file, not both"));
  EXPECT_THAT(errors_of("targets:\n  postgres_query: \"select id, container from t\"\n"),
              ElementsAre("cfg.yaml:2:19: targets.postgres_query: needs the postgres section (there is no database "
                          "to query)"));
}

TEST_F(ConfigErrors, EngineAndRedisDetails) {
  EXPECT_THAT(errors_of("engine:\n  api_version: \"1.41\"\n"),
              ElementsAre("cfg.yaml:2:16: engine.api_version: expected a version like 'v1.41', got '1.41'"));
  EXPECT_THAT(errors_of("redis:\n  heartbeat_key: \"hb:static\"\n"),
              ElementsAre("cfg.yaml:2:18: redis.heartbeat_key: must contain '{id}' (replaced by the target id), got "
                          "'hb:static'"));
}

TEST_F(ConfigErrors, BadYamlSyntaxHasItsPosition) {
  // yaml-cpp notices the unclosed '[' at the end of the input.
  EXPECT_THAT(errors_of("listen: [1,\nlog: x\n"),
              ElementsAre("cfg.yaml:3:1: YAML syntax error: end of sequence flow not found"));
  EXPECT_THAT(errors_of("log:\n  level: info\n  format: [text\nlisten: x\n"),
              ElementsAre("cfg.yaml:4:7: YAML syntax error: end of sequence flow not found"));
  EXPECT_THAT(errors_of("log:\n  level: info: debug\n"),
              ElementsAre("cfg.yaml:2:14: YAML syntax error: illegal map value"));
  EXPECT_THAT(errors_of("log:\n  level: info\n   format: text\n"),
              ElementsAre(StartsWith("cfg.yaml:3:")));
  EXPECT_THAT(errors_of("log: \"unterminated\n"), ElementsAre(StartsWith("cfg.yaml:")));
}

TEST_F(ConfigErrors, EmptyDocumentsAndSecondDocuments) {
  EXPECT_THAT(errors_of(""), ElementsAre(StartsWith("cfg.yaml:1:1: the configuration is empty")));
  EXPECT_THAT(errors_of("# nothing but a comment\n"), ElementsAre(StartsWith("cfg.yaml:1:1: the configuration is empty")));
  EXPECT_THAT(errors_of("listen: \"127.0.0.1:1\"\n---\nlisten: \"127.0.0.1:2\"\n"),
              ElementsAre("cfg.yaml:2:1: more than one YAML document ('---'); put all settings in one"));
}

// yaml-cpp 0.7 alone would loop forever, allocating, on these.
TEST_F(ConfigErrors, StrayCommaAtTopLevelIsASyntaxError) {
  EXPECT_THAT(errors_of(","), ElementsAre("cfg.yaml:1:1: YAML syntax error: unexpected ',' outside of a [list] or {map}"));
  EXPECT_THAT(errors_of("# comment\n,\nlog: x\n"),
              ElementsAre("cfg.yaml:2:1: YAML syntax error: unexpected ',' outside of a [list] or {map}"));
}

TEST_F(ConfigErrors, AllProblemsAtOnceInDocumentOrder) {
  const auto errors = errors_of("shutdown_grace: 5\n"
                                "listen: \"127.0.0.1\"\n"
                                "log:\n"
                                "  level: loud\n"
                                "sweeps:\n"
                                "  proactive:\n"
                                "    intervall: 5s\n"
                                "    jitter: 2\n"
                                "remediation:\n"
                                "  restart:\n"
                                "    via: webhook\n");
  EXPECT_THAT(errors, ElementsAre(StartsWith("cfg.yaml:1:17: shutdown_grace: invalid duration '5'"),
                                  StartsWith("cfg.yaml:2:9: listen: invalid host:port"),
                                  StartsWith("cfg.yaml:4:10: log.level: invalid value 'loud'"),
                                  StartsWith("cfg.yaml:7:5: unknown key 'intervall'"),
                                  StartsWith("cfg.yaml:8:13: sweeps.proactive.jitter: must be between 0 and 1"),
                                  StartsWith("cfg.yaml:11:10: remediation.restart.via: 'webhook' needs")));
}

TEST_F(ConfigErrors, NestingTooDeepIsASyntaxError) {
  EXPECT_THAT(errors_of(std::string(100000, '[')), ElementsAre(HasSubstr("YAML syntax error: nesting too deep")));
}

TEST_F(ConfigErrors, AFloodOfProblemsIsCutAfterAHundred) {
  std::string yaml;
  for (int i = 1; i <= 150; ++i) yaml += "unknown" + std::to_string(i) + ": 1\n";
  const auto errors = errors_of(yaml);
  ASSERT_EQ(errors.size(), 101u);
  EXPECT_THAT(errors[99], StartsWith("cfg.yaml:100:1: unknown key 'unknown100'"));
  EXPECT_EQ(errors[100], "cfg.yaml:101:1: ... and 50 more problems from here on");
}

TEST_F(ConfigErrors, MissingFileIsReportedAtOneOne) {
  const LoadResult result = load_file("/nonexistent/healthsweep.yaml");
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].to_string(),
            "/nonexistent/healthsweep.yaml:1:1: cannot read configuration file: No such file or directory");
}

}  // namespace
}  // namespace healthsweep::config
