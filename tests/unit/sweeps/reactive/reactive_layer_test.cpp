#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "tests/support/metrics_text.hpp"
#include "sweeps/reactive/reactive_layer.hpp"
#include "clients/engine/client.hpp"

using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::reactive;

using namespace healthsweep;
using namespace std::chrono_literals;
using healthsweep::sweeps::reactive::ReactiveLayer;
namespace net = boost::asio;

namespace {

// A check that takes `delay` and answers `verdict`; counts its calls.
struct FakeEngine {
  net::io_context& ioc;
  std::chrono::milliseconds delay{20};
  healthsweep::sweeps::decide::Verdict verdict = healthsweep::sweeps::decide::Verdict::dead;
  int calls = 0;
  std::vector<std::string> asked{};  // the targets checked, in order
  bool hang = false;
  ReactiveLayer::Check check() {
    return [this](const ReactiveLayer::Report& r) -> net::awaitable<healthsweep::sweeps::decide::Evidence> {
      ++calls;
      asked.push_back(r.target);
      net::steady_timer t(ioc, hang ? std::chrono::hours(1) : delay);
      boost::system::error_code ec;
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      co_return healthsweep::sweeps::decide::Evidence{r.target, healthsweep::sweeps::decide::Layer::reactive, verdict, "container exited", true, {}};
    };
  }
};

struct Fixture {
  net::io_context ioc;
  metrics::Metrics metrics{"test"};
  metrics::LivenessRegistry liveness;
  FakeEngine engine{ioc};
  std::vector<healthsweep::sweeps::decide::Evidence> evidence;
  std::unique_ptr<ReactiveLayer> layer;
  explicit Fixture(ReactiveLayer::Options o = {}) {
    layer = std::make_unique<ReactiveLayer>(
        ioc.get_executor(), o, engine.check(),
        [this](healthsweep::sweeps::decide::Evidence e) { evidence.push_back(std::move(e)); }, metrics, liveness);
  }
  ReactiveLayer::Admission report(const std::string& id) {
    return layer->report({id, "connect ECONNREFUSED", "proxy", std::chrono::steady_clock::now()});
  }
  // Runs the loop for `d` of wall time (run_for alone returns early once the
  // loop has no work left).
  void run_for(std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      ioc.run_for(5ms);
      ioc.restart();
      std::this_thread::sleep_for(1ms);
    }
  }
};

}  // namespace

TEST(ReactiveLayer, ThousandReportsForOneTargetCauseOneCheck) {
  Fixture f;
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  for (int i = 0; i < 999; ++i) EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::coalesced);
  f.run_for(200ms);
  EXPECT_EQ(f.engine.calls, 1);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].verdict, healthsweep::sweeps::decide::Verdict::dead);
  EXPECT_EQ(f.evidence[0].layer, healthsweep::sweeps::decide::Layer::reactive);
}

TEST(ReactiveLayer, ReportWithinTheWindowAfterACheckIsCoalescedAndAfterItChecksAgain) {
  ReactiveLayer::Options o;
  o.coalesce_window = 150ms;
  Fixture f(o);
  f.report("ws-1");
  f.run_for(60ms);
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::coalesced);
  f.run_for(200ms);
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);
  EXPECT_EQ(f.engine.calls, 2);
}

TEST(ReactiveLayer, AdminSweepSkipsTheWindowButNotSingleFlight) {
  Fixture f;
  f.report("ws-1");
  EXPECT_EQ(f.layer->sweep("ws-1"), ReactiveLayer::Admission::coalesced);
  f.run_for(100ms);
  EXPECT_EQ(f.layer->sweep("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);
  EXPECT_EQ(f.engine.calls, 2);
}

TEST(ReactiveLayer, AdminSweepEvidenceIsAProactiveLookNamedAsTheSweep) {
  Fixture f;
  EXPECT_EQ(f.layer->sweep("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].layer, healthsweep::sweeps::decide::Layer::proactive);
  EXPECT_EQ(f.evidence[0].reason.rfind("admin sweep: ", 0), 0u) << f.evidence[0].reason;
}

TEST(ReactiveLayer, AdminSweepsShareTheHooksBoundedQueue) {
  ReactiveLayer::Options o;
  o.max_concurrent = 1;
  o.max_queued = 1;
  Fixture f(o);
  EXPECT_EQ(f.report("a"), ReactiveLayer::Admission::started);
  EXPECT_EQ(f.layer->sweep("b"), ReactiveLayer::Admission::queued);
  EXPECT_EQ(f.layer->sweep("c"), ReactiveLayer::Admission::refused);
  f.run_for(200ms);
  EXPECT_EQ(f.engine.calls, 2);
}

TEST(ReactiveLayer, BeyondConcurrencyReportsQueueThenAreRefused) {
  ReactiveLayer::Options o;
  o.max_concurrent = 2;
  o.max_queued = 3;
  Fixture f(o);
  EXPECT_EQ(f.report("a"), ReactiveLayer::Admission::started);
  EXPECT_EQ(f.report("b"), ReactiveLayer::Admission::started);
  EXPECT_EQ(f.report("c"), ReactiveLayer::Admission::queued);
  EXPECT_EQ(f.report("d"), ReactiveLayer::Admission::queued);
  EXPECT_EQ(f.report("e"), ReactiveLayer::Admission::queued);
  EXPECT_EQ(f.report("f"), ReactiveLayer::Admission::refused);
  EXPECT_EQ(f.report("c"), ReactiveLayer::Admission::coalesced);  // already waiting
  f.run_for(300ms);
  EXPECT_EQ(f.engine.calls, 5);
  EXPECT_EQ(f.evidence.size(), 5u);
  EXPECT_EQ(f.layer->in_flight(), 0u);
  EXPECT_EQ(f.layer->queued(), 0u);
}

TEST(ReactiveLayer, AliveResultIsRecordedAsAFalseAlarm) {
  Fixture f;
  f.engine.verdict = healthsweep::sweeps::decide::Verdict::alive;
  f.report("ws-1");
  f.run_for(100ms);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].verdict, healthsweep::sweeps::decide::Verdict::alive);
  EXPECT_NE(f.evidence[0].reason.find("false alarm: connect ECONNREFUSED (from proxy)"),
            std::string::npos) << f.evidence[0].reason;
  const auto text = f.metrics.scrape(f.liveness);
  EXPECT_NE(text.find("healthsweep_reactive_false_alarms_total 1"), std::string::npos);
}

TEST(ReactiveLayer, EvidenceTimeIsWhenTheReportWasReceived) {
  Fixture f;
  const auto received = std::chrono::steady_clock::now() - 5ms;
  f.layer->report({"ws-1", "", "", received});
  f.run_for(100ms);
  ASSERT_EQ(f.evidence.size(), 1u);
  EXPECT_EQ(f.evidence[0].observed_at, received);
}

TEST(ReactiveLayer, IsFreshWithNoTrafficAndStaleWhenChecksAreStuck) {
  ReactiveLayer::Options o;
  o.stale_after = 200ms;
  o.max_concurrent = 1;
  Fixture f(o);
  f.layer->start();
  f.run_for(500ms);
  EXPECT_TRUE(f.liveness.all_fresh()) << "idle path is fresh";
  f.engine.hang = true;
  f.report("a");
  f.report("b");  // waits behind the stuck check
  f.run_for(600ms);
  EXPECT_FALSE(f.liveness.all_fresh()) << "a queue that does not move is stale";
  EXPECT_FALSE(f.liveness.late_loop().has_value())
      << "the tick loop itself still turns: a stuck dependency is no stuck daemon (SPEC section 7)";
  f.layer->stop();
}

// A storm's repeats (targets reported within the horizon) take at
// most max_concurrent_repeats slots and wait behind news: a target nobody
// questioned lately is checked at once, ahead of the repeats queued before
// it (issue 15: a dead target's report waited behind ~60 storm checks).
TEST(ReactiveLayer, NewsIsCheckedAheadOfRepeatsQueuedBeforeIt) {
  ReactiveLayer::Options o;
  o.coalesce_window = 300ms;  // repeats: reported 300-600 ms after their last check
  o.max_concurrent = 3;
  o.max_concurrent_repeats = 2;
  Fixture f(o);
  for (int i = 0; i < 6; ++i) f.report("storm-" + std::to_string(i));
  f.run_for(500ms);  // all six checked (two rounds of 20 ms), ~450 ms ago
  ASSERT_EQ(f.evidence.size(), 6u);
  f.engine.asked.clear();

  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f.report("storm-" + std::to_string(i)), i < 2 ? ReactiveLayer::Admission::started
                                                          : ReactiveLayer::Admission::queued)
        << "repeat " << i << ": two slots of three at most";
  EXPECT_EQ(f.report("fresh-a"), ReactiveLayer::Admission::started) << "news takes the third slot";
  EXPECT_EQ(f.report("fresh-b"), ReactiveLayer::Admission::queued) << "every slot taken";
  f.run_for(200ms);

  EXPECT_EQ(f.evidence.size(), 6u + 8u) << "every report checked in the end";
  const auto& asked = f.engine.asked;
  ASSERT_EQ(asked.size(), 8u);
  const auto pos = [&](const std::string& id) { return std::find(asked.begin(), asked.end(), id) - asked.begin(); };
  EXPECT_EQ(pos("fresh-a"), 2) << "at once, beside the two repeats running";
  EXPECT_EQ(pos("fresh-b"), 3) << "the first slot freed goes to news, ahead of four repeats queued before it";
  EXPECT_LT(pos("storm-2"), pos("storm-5")) << "repeats in arrival order";
}

// By default repeats never hold the whole engine pool: two of its
// connections stay for news, which then starts its inspect at once instead
// of waiting for a repeat's to come back.
TEST(ReactiveLayer, RepeatsLeaveTwoOfTheEnginesPooledConnectionsForNews) {
  const ReactiveLayer::Options o;
  const healthsweep::clients::engine::EngineClientOptions engine;
  EXPECT_EQ(o.max_concurrent_repeats + 2, engine.max_connections);
  EXPECT_GE(o.max_concurrent, engine.max_connections) << "news may use the connections repeats leave";
}

namespace {
// Two targets reported and checked, then reported again `after` the first
// reports, with one slot for repeats of two: how the second reports of a
// and b are admitted (news: both start; a repeat: b waits for the one slot).
std::pair<ReactiveLayer::Admission, ReactiveLayer::Admission> second_reports(ReactiveLayer::Options o,
                                                                            std::chrono::milliseconds after) {
  o.max_concurrent = 2;
  o.max_concurrent_repeats = 1;
  Fixture f(o);
  f.report("a");
  f.report("b");
  f.run_for(after);  // both checked (20 ms)
  const auto a = f.report("a");
  const auto b = f.report("b");
  f.run_for(100ms);
  EXPECT_EQ(f.engine.calls, 4) << "every report checked in the end";
  return {a, b};
}
}  // namespace

TEST(ReactiveLayer, AReportLongAfterTheLastReportIsNewsAgain) {
  ReactiveLayer::Options o;
  o.coalesce_window = 100ms;
  o.repeat_within = 300ms;
  const auto [a, b] = second_reports(o, 350ms);  // longer ago than repeat_within
  EXPECT_EQ(a, ReactiveLayer::Admission::started);
  EXPECT_EQ(b, ReactiveLayer::Admission::started) << "news again: not held to the one repeat slot";
}

// A storm's reporter that slows down (its host busy: wrk fell to 2,800
// reports/s over 10,000 targets in run P6) revisits each target only every
// few windows. Its reports stay repeats for repeat_within (30 s by
// default); counted in two windows, they turned into news, queued ahead of
// the report of a target that had just died, and made it wait up to 1.3 s.
TEST(ReactiveLayer, AStormRevisitingEachTargetEveryFewWindowsStaysRepeats) {
  ReactiveLayer::Options o;
  o.coalesce_window = 100ms;
  o.max_concurrent = 2;
  o.max_concurrent_repeats = 1;
  ASSERT_EQ(o.repeat_within, 30s) << "the default";
  Fixture f(o);
  for (const auto* id : {"storm-a", "storm-b", "storm-c"}) f.report(id);
  f.run_for(500ms);  // all checked; five windows since their reports
  ASSERT_EQ(f.engine.calls, 3);
  using A = ReactiveLayer::Admission;
  EXPECT_EQ(f.report("storm-a"), A::started);
  EXPECT_EQ(f.report("storm-b"), A::queued) << "a repeat: the one repeat slot is taken";
  EXPECT_EQ(f.report("storm-c"), A::queued) << "a repeat: the one repeat slot is taken";
  EXPECT_EQ(f.report("died"), A::started) << "news takes the slot the repeats leave";
  f.run_for(200ms);
  EXPECT_EQ(f.engine.calls, 7) << "every report checked in the end";
}

// repeat_within never shortens the horizon below two windows: a target
// reported again just after its window is still part of the storm.
TEST(ReactiveLayer, TheRepeatHorizonIsAtLeastTwoWindows) {
  ReactiveLayer::Options o;
  o.coalesce_window = 200ms;
  o.repeat_within = 0ms;
  const auto [a, b] = second_reports(o, 250ms);  // past the window, within two
  EXPECT_EQ(a, ReactiveLayer::Admission::started);
  EXPECT_EQ(b, ReactiveLayer::Admission::queued) << "a repeat, held to the one repeat slot";
}

// healthsweep_reactive_checks{state}: how many checks run and how many wait
// for a slot, kept in step with every admission, completion and stop.
TEST(ReactiveLayer, ChecksRunningAndQueuedAreGaugesThatFollowTheQueue) {
  ReactiveLayer::Options o;
  o.max_concurrent = 2;
  Fixture f(o);
  const auto gauges = [&] {
    const auto text = f.metrics.scrape(f.liveness);
    return std::to_string(static_cast<int>(healthsweep::testing::series_value(text, R"(healthsweep_reactive_checks{state="running"})"))) +
           "/" + std::to_string(static_cast<int>(healthsweep::testing::series_value(text, R"(healthsweep_reactive_checks{state="queued"})")));
  };
  // series_value reads an absent series as 0: that both exist is checked on the text.
  const auto first = f.metrics.scrape(f.liveness);
  EXPECT_NE(first.find("healthsweep_reactive_checks{state=\"running\"} 0\n"), std::string::npos)
      << "both series exist before the first report";
  EXPECT_NE(first.find("healthsweep_reactive_checks{state=\"queued\"} 0\n"), std::string::npos)
      << "both series exist before the first report";
  EXPECT_EQ(gauges(), "0/0");
  for (const auto* id : {"a", "b", "c", "d"}) f.report(id);
  EXPECT_EQ(gauges(), "2/2");
  f.run_for(5ms);        // a and b begin their 20 ms checks
  f.engine.hang = true;  // the next checks never answer
  f.run_for(100ms);      // a and b done; c and d started and hanging
  EXPECT_EQ(gauges(), "2/0");
  f.report("e");
  EXPECT_EQ(gauges(), "2/1");
  f.layer->stop();
  EXPECT_EQ(gauges(), "2/0") << "a stopped layer drops its queue; the checks running are still running";
}

namespace {
// The default logger's lines while it lives (the test's own sink only).
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> was = spdlog::default_logger();
  CapturedLog() {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(was); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
};
}  // namespace

// A dead verdict on news says how long it took and where the time went (a
// slot and the loop, or the check), once per episode: the reports that keep
// coming for a dead target are repeats and stay quiet, as do alive verdicts.
TEST(ReactiveLayer, ADeadVerdictOnNewsIsLoggedOnceWithItsSplit) {
  ReactiveLayer::Options o;
  o.coalesce_window = 200ms;
  Fixture f(o);
  CapturedLog log;
  f.report("ws-1");
  f.run_for(100ms);
  const auto first = log.out.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first, m, std::regex(
      R"(reactive: ws-1 dead \(container exited\), verdict ([\d.]+) ms after the report \(check began ([\d.]+) ms after it, behind 0 news\))")))
      << first;
  EXPECT_GE(std::stod(m[1]), 19.0) << "the check takes 20 ms";
  EXPECT_LE(std::stod(m[2]), std::stod(m[1]) - 19.0) << "the check began before its 20 ms";

  f.run_for(200ms);  // ~280 ms after the check: past the window, within two, a repeat
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);  // found dead again
  ASSERT_EQ(f.evidence.size(), 2u);
  EXPECT_EQ(f.evidence[1].verdict, Verdict::dead);
  f.engine.verdict = Verdict::alive;
  f.report("ws-2");
  f.run_for(100ms);
  EXPECT_EQ(f.engine.calls, 3);
  EXPECT_EQ(log.out.str(), first) << "neither a repeat nor an alive verdict is logged";
}

// The line also says how many news were queued ahead of the report, so a
// slow start tells a queue of news from every slot taken.
TEST(ReactiveLayer, ADeadVerdictOnNewsSaysHowManyNewsWereQueuedAheadOfIt) {
  ReactiveLayer::Options o;
  o.max_concurrent = 1;
  Fixture f(o);
  CapturedLog log;
  for (const auto* id : {"a", "b", "c"}) f.report(id);  // a runs, b and c wait
  f.run_for(150ms);
  const auto text = log.out.str();
  EXPECT_NE(text.find("reactive: a dead"), std::string::npos) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(reactive: a dead .*behind 0 news\))"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(reactive: b dead .*behind 0 news\))"))) << "a runs, it is not queued\n" << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(reactive: c dead .*behind 1 news\))"))) << text;
}

// A repeat counts from the target's last report, not its last check: a
// storm that reports each target every 1.5 windows stays repeats even when
// a check ended longer ago than the horizon (a busy engine, a slow reporter).
// Counting from the check's end, such reports turned into news in run P3 and
// buried the report of a target that had just died.
TEST(ReactiveLayer, AReportWithinTheHorizonOfTheLastReportIsARepeatHoweverOldTheCheck) {
  ReactiveLayer::Options o;
  o.coalesce_window = 300ms;
  o.repeat_within = 600ms;
  Fixture f(o);
  CapturedLog log;  // a dead verdict is logged for news only
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(200ms);  // checked (20 ms): dead, logged
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::coalesced) << "within the window after the check";
  f.run_for(450ms);  // ~630 ms after the check ended (past the horizon), ~450 ms after the last report
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);
  ASSERT_EQ(f.evidence.size(), 2u);
  const auto lines = [&] {
    const auto text = log.out.str();
    return std::count(text.begin(), text.end(), '\n');
  };
  EXPECT_EQ(lines(), 1) << "a repeat: not logged again\n" << log.out.str();
  f.run_for(700ms);  // past the horizon since the last report
  EXPECT_EQ(f.report("ws-1"), ReactiveLayer::Admission::started);
  f.run_for(100ms);
  EXPECT_EQ(lines(), 2) << "news again, logged\n" << log.out.str();
}

// A storm that outruns the checks fills at most three quarters of the queue:
// the rest is kept for news, which is then queued where a repeat is refused.
TEST(ReactiveLayer, RepeatsFillAtMostThreeQuartersOfTheQueue) {
  ReactiveLayer::Options o;
  o.coalesce_window = 300ms;
  o.max_concurrent = 1;
  o.max_concurrent_repeats = 1;
  o.max_queued = 8;
  Fixture f(o);
  for (int i = 0; i < 8; ++i) f.report("storm-" + std::to_string(i));  // news: one runs, seven wait
  f.run_for(500ms);  // all eight checked (20 ms each), the last ~340 ms ago: past the window
  ASSERT_EQ(f.evidence.size(), 8u);
  f.engine.hang = true;
  std::vector<ReactiveLayer::Admission> got;
  for (int i = 0; i < 8; ++i) got.push_back(f.report("storm-" + std::to_string(i)));  // repeats
  using A = ReactiveLayer::Admission;
  EXPECT_EQ(got, (std::vector<A>{A::started, A::queued, A::queued, A::queued, A::queued, A::queued, A::queued,
                                 A::refused}))
      << "one runs, six (3/4 of 8) wait, the eighth is refused";
  EXPECT_EQ(f.report("fresh-a"), A::queued) << "news has the last quarter";
  EXPECT_EQ(f.report("fresh-b"), A::queued);
  EXPECT_EQ(f.report("fresh-c"), A::refused) << "the whole queue is full";
  f.layer->stop();
}
