// The shipped Prometheus config and rules against a real Prometheus and a
// real daemon on loopback: the scrape works (up == 1, our series arrive) and
// every shipped rule evaluates without error on real data.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <unistd.h>
#include <fstream>
#include <regex>

#include "tests/support/daemon.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

namespace {

std::string query(int port, const std::string& promql) {
  std::string q;
  for (unsigned char c : promql) {
    if (std::isalnum(c) || c == '_') q += static_cast<char>(c);
    else { char buf[4]; std::snprintf(buf, sizeof buf, "%%%02X", c); q += buf; }
  }
  return http_request(port, "GET", "/api/v1/query?query=" + q).body;
}

}  // namespace

TEST(PrometheusScrape, ShippedConfigScrapesTheDaemonAndTheRulesEvaluate) {
  if (::access("/usr/bin/prometheus", X_OK) != 0) {
    if (in_ci()) GTEST_FAIL() << "prometheus is not installed (CI=true)";
    GTEST_SKIP() << "SKIPPED LOUDLY: /usr/bin/prometheus missing; scripts/test installs it";
  }
  Daemon d("");
  TempDir dir;
  // The shipped files, with the daemon's port and a 1 s scrape.
  std::string scrape = read_file(std::string(HS_SOURCE_DIR) + "/deploy/prometheus/scrape.yml");
  scrape = std::regex_replace(scrape, std::regex("127\\.0\\.0\\.1:9470"), "127.0.0.1:" + std::to_string(d.port()));
  scrape = std::regex_replace(scrape, std::regex("(scrape_interval|evaluation_interval): 15s"), "$1: 1s");
  scrape = std::regex_replace(scrape, std::regex("scrape_timeout: 10s"), "scrape_timeout: 1s");
  dir.write("prometheus.yml", scrape);
  dir.write("healthsweep.rules.yml",
            read_file(std::string(HS_SOURCE_DIR) + "/deploy/prometheus/healthsweep.rules.yml"));
  const int port = free_port();
  Subprocess prom({"/usr/bin/prometheus", "--config.file=" + dir.file("prometheus.yml"),
                   "--storage.tsdb.path=" + dir.file("tsdb"),
                   "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                  dir.file("prometheus.log"));
  ASSERT_TRUE(eventually([&] {
    return query(port, "up{job=\"healthsweep\"}").find("\"1\"]") != std::string::npos;
  }, 60s)) << prom.log();
  EXPECT_NE(query(port, "healthsweep_build_info").find("\"version\""), std::string::npos);
  EXPECT_NE(query(port, "process_resident_memory_bytes{job=\"healthsweep\"}").find("\"result\":[{"),
            std::string::npos);
  // Every rule group loaded and evaluated on real data without an error.
  ASSERT_TRUE(eventually([&] {
    const auto body = http_request(port, "GET", "/api/v1/rules").body;
    return body.find("\"lastEvaluation\":\"0001") == std::string::npos &&
           body.find("\"evaluationTime\"") != std::string::npos;
  }, 30s)) << prom.log();
  const auto rules = boost::json::parse(http_request(port, "GET", "/api/v1/rules").body);
  int checked = 0;
  for (const auto& g : rules.at("data").at("groups").as_array())
    for (const auto& r : g.at("rules").as_array()) {
      EXPECT_EQ(r.at("health").as_string(), "ok") << r.at("name").as_string() << ": "
                                                  << boost::json::serialize(r);
      ++checked;
    }
  EXPECT_GE(checked, 9);
  // Every query of the shipped Grafana dashboard runs without an error on
  // real data (Grafana's variables filled in as it would); the panels that
  // need no traffic, targets or engine show data.
  const auto dashboard = boost::json::parse(read_file(std::string(HS_SOURCE_DIR) + "/deploy/grafana/healthsweep.json"));
  int queries = 0;
  for (const auto& panel : dashboard.at("panels").as_array()) {
    const auto id = panel.at("id").to_number<int>();
    const bool needs_data = id <= 5 || id >= 15;  // stats, targets by state, process_*
    for (const auto& t : panel.at("targets").as_array()) {
      std::string expr(t.at("expr").as_string());
      expr = std::regex_replace(expr, std::regex("\\$__rate_interval"), "1m");
      expr = std::regex_replace(expr, std::regex("\\$job"), "healthsweep");
      std::string body;
      const bool has_data = eventually([&] {
        body = query(port, expr);
        return body.find("\"status\":\"success\"") != std::string::npos &&
               (!needs_data || body.find("\"result\":[{") != std::string::npos);
      }, 15s);
      EXPECT_TRUE(has_data) << panel.at("title").as_string() << ": " << expr << " -> " << body;
      ++queries;
    }
  }
  EXPECT_GE(queries, 17);
  // Nothing of ours fires on a healthy daemon.
  const auto alerts = http_request(port, "GET", "/api/v1/alerts").body;
  EXPECT_EQ(alerts.find("\"state\":\"firing\""), std::string::npos) << alerts;
}
