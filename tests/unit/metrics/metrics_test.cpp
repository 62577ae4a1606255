#include <gtest/gtest.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/families.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

using namespace healthsweep::metrics;

namespace {

struct Expected {
  std::string name;
  std::string type;
  std::set<std::string> labels;
};

// SPEC section 5 and the extras, written out here on purpose (not read from
// families.hpp): dashboards and alert rules in deploy/ depend on each of
// them, so removing or retyping one must fail this test.
const std::vector<Expected>& expected_families() {
  static const std::vector<Expected> all{
      // SPEC section 5
      {"healthsweep_build_info", "gauge", {"version"}},
      {"healthsweep_targets", "gauge", {"state"}},
      {"healthsweep_subsystem_up", "gauge", {"subsystem"}},
      {"healthsweep_subsystem_last_tick_timestamp_seconds", "gauge", {"subsystem"}},
      {"healthsweep_sweep_runs_total", "counter", {"sweep", "result"}},
      {"healthsweep_sweep_duration_seconds", "histogram", {"sweep"}},
      {"healthsweep_detections_total", "counter", {"layer"}},
      {"healthsweep_detection_latency_seconds", "histogram", {"layer"}},
      {"healthsweep_transitions_total", "counter", {"from", "to"}},
      {"healthsweep_remediations_total", "counter", {"action", "result"}},
      {"healthsweep_hook_requests_total", "counter", {"code"}},
      {"healthsweep_auth_failures_total", "counter", {}},
      {"healthsweep_failsafe_active", "gauge", {}},
      {"healthsweep_store_spool_events", "gauge", {}},
      {"process_resident_memory_bytes", "gauge", {}},
      {"process_cpu_seconds_total", "counter", {}},
      {"process_open_fds", "gauge", {}},
      {"process_start_time_seconds", "gauge", {}},
      // Extras
      {"process_virtual_memory_bytes", "gauge", {}},
      {"process_max_fds", "gauge", {}},
      {"healthsweep_config_reloads_total", "counter", {"result"}},
      {"healthsweep_http_connections_refused_total", "counter", {"reason"}},
      {"healthsweep_reactive_coalesced_total", "counter", {}},
      {"healthsweep_reactive_refused_total", "counter", {}},
      {"healthsweep_reactive_false_alarms_total", "counter", {}},
      {"healthsweep_reactive_checks", "gauge", {"state"}},
      {"healthsweep_proactive_overruns_total", "counter", {}},
      {"healthsweep_proactive_event_deaths_total", "counter", {}},
      {"healthsweep_proactive_process_exits_total", "counter", {}},
      {"healthsweep_proactive_watched_processes", "gauge", {}},
      {"healthsweep_proactive_event_stream_up", "gauge", {}},
      {"healthsweep_store_spool_write_errors_total", "counter", {}},
      {"healthsweep_store_events_dropped_total", "counter", {}},
      {"healthsweep_log_lines_dropped_total", "counter", {}},
      {"healthsweep_event_loop_stall_seconds", "histogram", {}},
      {"healthsweep_event_loop_stall_max_seconds", "gauge", {}},
      {"healthsweep_event_loop_handler_seconds", "histogram", {}},
      {"healthsweep_event_loop_handler_max_seconds", "gauge", {}},
      {"healthsweep_cluster_members", "gauge", {}},
      {"healthsweep_cluster_lease_held", "gauge", {}},
      {"healthsweep_cluster_epoch", "gauge", {}},
      {"healthsweep_cluster_lease_renew_failures_total", "counter", {}},
      {"healthsweep_cluster_leases_lost_total", "counter", {}},
      {"healthsweep_cluster_targets_owned", "gauge", {}},
      {"healthsweep_cluster_targets_peer_owned", "gauge", {}},
      {"healthsweep_cluster_targets_unowned", "gauge", {}},
      {"healthsweep_cluster_targets_taken_over_total", "counter", {}},
      {"healthsweep_cluster_targets_handed_over_total", "counter", {}},
  };
  return all;
}

struct Scrape {
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, std::string> helps;  // family -> help
  std::map<std::string, std::set<std::string>> labels;  // family -> label names of its series
  std::map<std::string, std::string> values;  // series text (name{labels}) -> value
};

// The family a series line belongs to: histogram lines end in _bucket,
// _sum or _count.
std::string family_of(const std::string& series, const Scrape& s) {
  if (s.types.count(series)) return series;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sfx(suffix);
    if (series.size() > sfx.size() && series.ends_with(sfx)) {
      auto base = series.substr(0, series.size() - sfx.size());
      if (s.types.count(base)) return base;
    }
  }
  return series;
}

Scrape parse(const std::string& text) {
  Scrape s;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> series_lines;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      s.types[name] = type;
    } else if (line.rfind("# HELP ", 0) == 0) {
      const auto rest = line.substr(7);
      const auto sp = rest.find(' ');
      s.helps[rest.substr(0, sp)] = sp == std::string::npos ? "" : rest.substr(sp + 1);
    } else if (!line.empty() && line[0] != '#') {
      series_lines.push_back(line);
    }
  }
  for (const auto& l : series_lines) {
    const auto sp = l.rfind(' ');
    const auto series = l.substr(0, sp);
    s.values[series] = l.substr(sp + 1);
    const auto brace = series.find('{');
    const auto family = family_of(series.substr(0, brace), s);
    auto& names = s.labels[family];
    if (brace == std::string::npos) continue;
    // name{a="x",b="y"}: label values here hold no quotes or commas
    std::istringstream pairs(series.substr(brace + 1, series.size() - brace - 2));
    std::string pair;
    while (std::getline(pairs, pair, ',')) {
      const auto label = pair.substr(0, pair.find('='));
      if (label != "le") names.insert(label);
    }
  }
  return s;
}

Scrape scrape(Metrics& m) {
  LivenessRegistry liveness;
  return parse(m.scrape(liveness));
}

// A fresh Metrics with one of everything recorded: families whose series
// appear on first use (a sweep's name, a status code) are then exposed too.
Scrape scrape_after_one_of_each(Metrics& m) {
  LivenessRegistry liveness;
  liveness.enable(Subsystem::redis, std::chrono::seconds(60));
  liveness.tick(Subsystem::redis);
  m.detection("passive", 0.5);
  m.sweep_run("proactive", true, 0.1);
  m.transition("online", "offline");
  m.remediation("restart", "ok");
  m.hook_request(202);
  m.set_targets("online", 3);
  m.set_failsafe(true);
  m.set_spool_events(2);
  m.config_reload(true);
  m.auth_failure();
  m.connection_refused("cap");
  return parse(m.scrape(liveness));
}

// Families with no series until first used: prometheus-cpp exposes a
// family only once it has a series.
const std::set<std::string> on_first_use{
    "healthsweep_subsystem_up", "healthsweep_subsystem_last_tick_timestamp_seconds",
    "healthsweep_sweep_runs_total", "healthsweep_sweep_duration_seconds",
    "healthsweep_transitions_total", "healthsweep_hook_requests_total"};

}  // namespace

TEST(Metrics, FreshScrapeHasEveryFamilyWithItsTypeExceptThoseOfFirstUse) {
  Metrics m("test");
  const auto s = scrape(m);
  for (const auto& e : expected_families()) {
    if (on_first_use.count(e.name)) {
      EXPECT_FALSE(s.types.count(e.name)) << e.name << " now starts at zero: move it out of on_first_use";
      continue;
    }
    ASSERT_TRUE(s.types.count(e.name)) << e.name << " missing from a fresh scrape";
    EXPECT_EQ(s.types.at(e.name), e.type) << e.name;
  }
}

TEST(Metrics, ScrapeHasEverySpecFamilyAndEveryExtraWithItsTypeAndNothingElse) {
  Metrics m("test");
  const auto s = scrape_after_one_of_each(m);
  std::set<std::string> expected;
  for (const auto& e : expected_families()) {
    expected.insert(e.name);
    ASSERT_TRUE(s.types.count(e.name)) << e.name << " missing from the scrape";
    EXPECT_EQ(s.types.at(e.name), e.type) << e.name;
  }
  for (const auto& [name, type] : s.types)
    EXPECT_TRUE(expected.count(name)) << name << " is exposed but not listed";
  EXPECT_EQ(s.types.size(), expected.size());
}

TEST(Families, TheTableIsExactlyTheListWithTypesLabelsAndHelp) {
  std::map<std::string, const FamilySpec*> table;
  for (const auto& f : all_families())
    EXPECT_TRUE(table.emplace(std::string(f.name), &f).second) << f.name << " listed twice";
  ASSERT_EQ(table.size(), expected_families().size());
  for (const auto& e : expected_families()) {
    ASSERT_TRUE(table.count(e.name)) << e.name << " missing from families.hpp";
    const auto& f = *table.at(e.name);
    EXPECT_EQ(to_string(f.kind), e.type) << e.name;
    std::set<std::string> labels;
    for (auto l : f.labels)
      if (!l.empty()) labels.insert(std::string(l));
    EXPECT_EQ(labels, e.labels) << e.name;
    EXPECT_FALSE(f.help.empty()) << e.name;
  }
}

TEST(Metrics, ScrapedHelpIsTheTablesHelp) {
  Metrics m("test");
  const auto s = scrape_after_one_of_each(m);
  for (const auto& f : all_families()) {
    ASSERT_TRUE(s.helps.count(std::string(f.name))) << f.name;
    EXPECT_EQ(s.helps.at(std::string(f.name)), f.help) << f.name;
  }
}

TEST(Metrics, EverySeriesCarriesItsFamilysLabelNamesOnly) {
  Metrics m("test");
  const auto s = scrape_after_one_of_each(m);
  for (const auto& e : expected_families()) {
    ASSERT_TRUE(s.labels.count(e.name)) << e.name << " has no series";
    EXPECT_EQ(s.labels.at(e.name), e.labels) << e.name;
  }
  EXPECT_EQ(s.values.at(R"(healthsweep_hook_requests_total{code="202"})"), "1");
  EXPECT_EQ(s.values.at(R"(healthsweep_sweep_runs_total{result="ok",sweep="proactive"})"), "1");
  EXPECT_EQ(s.values.at("healthsweep_auth_failures_total"), "1");
  EXPECT_EQ(s.values.at(R"(healthsweep_http_connections_refused_total{reason="cap"})"), "1");
  EXPECT_EQ(s.values.at(R"(healthsweep_build_info{version="test"})"), "1");
}

// The daemon hands over the log queue's running total; the counter follows
// it and never goes down (a total read before another would be older).
TEST(Metrics, LogLinesDroppedFollowsTheQueuesTotal) {
  Metrics m("test");
  LivenessRegistry liveness;
  EXPECT_EQ(parse(m.scrape(liveness)).values.at("healthsweep_log_lines_dropped_total"), "0");
  m.set_log_lines_dropped(5);
  m.set_log_lines_dropped(5);
  EXPECT_EQ(parse(m.scrape(liveness)).values.at("healthsweep_log_lines_dropped_total"), "5");
  m.set_log_lines_dropped(1234);
  m.set_log_lines_dropped(3);
  EXPECT_EQ(parse(m.scrape(liveness)).values.at("healthsweep_log_lines_dropped_total"), "1234");
}

TEST(Metrics, LayerHandlesCountIntoTheirOwnFamilies) {
  Metrics m("test");
  m.reactive().coalesced.Increment();
  m.reactive().refused.Increment(2);
  m.reactive().false_alarms.Increment(3);
  m.reactive().running.Set(4);
  m.reactive().queued.Set(5);
  m.proactive().overruns.Increment();
  m.proactive().event_deaths.Increment(2);
  m.proactive().process_exits.Increment(3);
  m.proactive().watched_processes.Set(7);
  m.proactive().event_stream_up.Set(1);
  // The same series every time: a second handle sees what the first counted.
  EXPECT_EQ(m.reactive().coalesced.Value(), 1);
  const auto s = scrape(m);
  EXPECT_EQ(s.values.at("healthsweep_reactive_coalesced_total"), "1");
  EXPECT_EQ(s.values.at("healthsweep_reactive_refused_total"), "2");
  EXPECT_EQ(s.values.at("healthsweep_reactive_false_alarms_total"), "3");
  EXPECT_EQ(s.values.at("healthsweep_reactive_checks{state=\"running\"}"), "4");
  EXPECT_EQ(s.values.at("healthsweep_reactive_checks{state=\"queued\"}"), "5");
  EXPECT_EQ(s.values.at("healthsweep_proactive_overruns_total"), "1");
  EXPECT_EQ(s.values.at("healthsweep_proactive_event_deaths_total"), "2");
  EXPECT_EQ(s.values.at("healthsweep_proactive_process_exits_total"), "3");
  EXPECT_EQ(s.values.at("healthsweep_proactive_watched_processes"), "7");
  EXPECT_EQ(s.values.at("healthsweep_proactive_event_stream_up"), "1");
}

TEST(Metrics, LoopStallHandlesCountIntoTheStallHistogramAndItsMaximum) {
  Metrics m("test");
  m.loop_stall().stall.Observe(0.00005);
  m.loop_stall().stall.Observe(0.003);
  m.loop_stall().stall.Observe(0.030);
  m.loop_stall().longest.Set(0.030);
  const auto s = scrape(m);
  EXPECT_EQ(s.values.at("healthsweep_event_loop_stall_seconds_count"), "3");
  EXPECT_EQ(s.values.at("healthsweep_event_loop_stall_seconds_bucket{le=\"0.0001\"}"), "1");
  EXPECT_EQ(s.values.at("healthsweep_event_loop_stall_seconds_bucket{le=\"0.005\"}"), "2");
  EXPECT_EQ(s.values.at("healthsweep_event_loop_stall_seconds_bucket{le=\"+Inf\"}"), "3");
  EXPECT_EQ(s.values.at("healthsweep_event_loop_stall_max_seconds"), "0.03");
}
