// The hook's news during a storm the engine cannot keep up with (issue 15's
// hook goal, the reactive layer's queueing alone, on one loop, no sockets).
//
// A storm drums on STORM targets round-robin, each reported every PERIOD
// (one window and more: wrk's storm in the fleet revisits each target every
// 1-4 windows as its host slows it down), while a fake engine checks with 8
// connections (the engine client's) and SERVICE per check: fewer checks a
// second than the storm asks. Every 50 ms a report of a target nobody
// reported before (news: a container that has just died) arrives. Figures:
// that report's wait for its check to begin and its verdict, p50/p99/max;
// BASELINE, same run: the same news with no storm. Also how many of the
// storm's admissions the layer took for news (each news check found dead
// logs one line).
//
//   bench_reactive_storm [storm_targets=1000] [period_ms=300] [service_us=3000] [seconds=10]
//
// The window is 200 ms here (2 s in the daemon) so that a run lasts seconds.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "bench/latency_support.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/reactive/reactive_layer.hpp"

using namespace std::chrono_literals;
using namespace healthsweep;
using sweeps::reactive::ReactiveLayer;
namespace net = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// The engine: `connections` requests at a time, each `service` long; the
// rest wait in order, as behind the engine client's pooled connections.
struct FakeEngine {
  net::io_context& ioc;
  std::size_t free;
  std::chrono::microseconds service;
  std::deque<std::shared_ptr<net::steady_timer>> waiting{};
  std::map<std::string, steady::time_point> began{};  // news only
  std::uint64_t checks = 0;

  net::awaitable<void> acquire() {
    if (free > 0) {
      --free;
      co_return;
    }
    auto t = std::make_shared<net::steady_timer>(ioc, steady::time_point::max());
    waiting.push_back(t);
    boost::system::error_code ec;
    co_await t->async_wait(net::redirect_error(net::use_awaitable, ec));  // cancelled: a connection handed over
  }
  void release() {
    if (waiting.empty()) {
      ++free;
      return;
    }
    waiting.front()->cancel();
    waiting.pop_front();
  }
  ReactiveLayer::Check check() {
    return [this](const ReactiveLayer::Report& r) -> net::awaitable<sweeps::decide::Evidence> {
      if (r.target.starts_with("news-")) began[r.target] = steady::now();
      co_await acquire();
      net::steady_timer t(ioc, service);
      boost::system::error_code ec;
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      release();
      ++checks;
      co_return sweeps::decide::Evidence{r.target, sweeps::decide::Layer::reactive, sweeps::decide::Verdict::dead,
                                         "container exited", true, {}};
    };
  }
};

struct Phase {
  std::vector<double> wait, verdict;  // news: report -> check began, -> verdict (ms)
  std::size_t news = 0;                // news reports sent
  std::uint64_t storm_reports = 0, storm_admitted = 0, storm_refused = 0, storm_news = 0, checks = 0;
  double seconds = 0;  // the storm's length, warm-up included
};

Phase run_phase(bool storm, int storm_targets, std::chrono::milliseconds period, std::chrono::microseconds service,
                std::chrono::seconds length) {
  net::io_context ioc;
  metrics::Metrics metrics{"bench"};
  metrics::LivenessRegistry liveness;
  FakeEngine engine{ioc, 8, service};
  std::map<std::string, steady::time_point> reported, done;
  ReactiveLayer::Options o;
  o.coalesce_window = 200ms;
  ReactiveLayer layer(
      ioc.get_executor(), o, engine.check(),
      [&](sweeps::decide::Evidence e) {
        if (e.target.starts_with("news-")) done[e.target] = steady::now();
      },
      metrics, liveness);

  std::ostringstream log;  // one line per news check found dead
  auto was = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("storm", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);

  Phase out;
  std::streamoff log_at_warm = 0;  // the storm's first reports are news: counted from the warm-up's end
  const auto start = steady::now();
  // The storm settles before news is timed: its first pass is news (every
  // target's first report) and drains over about one period.
  const auto warm = start + std::max<steady::duration>(1s, 2 * period);
  const auto end = warm + length;
  out.seconds = std::chrono::duration<double>(end - start).count();
  // The storm: target i is due at start + i * period / storm_targets, then
  // every period.
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    net::steady_timer tick(ioc);
    std::uint64_t sent = 0;
    while (storm && steady::now() < end) {
      const auto due = static_cast<std::uint64_t>(std::chrono::duration<double>(steady::now() - start) / period *
                                                  storm_targets);
      for (; sent < due; ++sent) {
        const auto r = layer.report({"storm-" + std::to_string(sent % storm_targets), "connect ECONNREFUSED", "bench",
                                     steady::now()});
        ++out.storm_reports;
        if (r == ReactiveLayer::Admission::started || r == ReactiveLayer::Admission::queued) ++out.storm_admitted;
        if (r == ReactiveLayer::Admission::refused) ++out.storm_refused;
      }
      tick.expires_after(1ms);
      co_await tick.async_wait(net::use_awaitable);
    }
  }, net::detached);
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    net::steady_timer tick(ioc, warm);
    co_await tick.async_wait(net::use_awaitable);
    log_at_warm = log.tellp();
    for (int k = 0; steady::now() < end; ++k) {
      const std::string id = "news-" + std::to_string(k);
      reported[id] = steady::now();
      layer.report({id, "connect ECONNREFUSED", "bench", reported[id]});
      tick.expires_after(50ms);
      co_await tick.async_wait(net::use_awaitable);
    }
  }, net::detached);
  ioc.run_until(end + 3s);  // what is queued at the end gets its verdict
  layer.stop();
  spdlog::set_default_logger(was);

  out.news = reported.size();
  for (const auto& [id, at] : reported) {
    if (engine.began.count(id)) out.wait.push_back(hsbench::ms_between(at, engine.began[id]));
    if (done.count(id)) out.verdict.push_back(hsbench::ms_between(at, done[id]));
  }
  const std::string text = log.str().substr(static_cast<std::size_t>(log_at_warm));
  for (std::size_t p = text.find("reactive: storm-"); p != std::string::npos; p = text.find("reactive: storm-", p + 1))
    ++out.storm_news;
  out.checks = engine.checks;
  return out;
}

void print(const char* name, const Phase& p) {
  using hsbench::percentile;
  std::printf("%-9s news: %zu of %zu with a verdict; check began after the report p50 %.2f p99 %.2f max %.2f ms; "
              "verdict p50 %.2f p99 %.2f max %.2f ms\n",
              name, p.verdict.size(), p.news, percentile(p.wait, 50), percentile(p.wait, 99), percentile(p.wait, 100),
              percentile(p.verdict, 50), percentile(p.verdict, 99), percentile(p.verdict, 100));
}

}  // namespace

int main(int argc, char** argv) {
  const int storm_targets = argc > 1 ? std::atoi(argv[1]) : 1000;
  const auto period = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 300);
  const auto service = std::chrono::microseconds(argc > 3 ? std::atoi(argv[3]) : 3000);
  const auto length = std::chrono::seconds(argc > 4 ? std::atoi(argv[4]) : 10);
  std::printf("bench_reactive_storm: %d storm targets, each reported every %lld ms (window 200 ms); engine: 8 "
              "connections, %lld us a check (%.0f checks/s at most); news every 50 ms for %lld s\n",
              storm_targets, static_cast<long long>(period.count()), static_cast<long long>(service.count()),
              8e6 / static_cast<double>(service.count()), static_cast<long long>(length.count()));
  const Phase quiet = run_phase(false, storm_targets, period, service, length);
  const Phase storm = run_phase(true, storm_targets, period, service, length);
  print("BASELINE", quiet);
  print("storm", storm);
  std::printf("storm: %llu reports (%.0f/s), %llu admitted, %llu refused (429), %llu admitted as news; %llu checks "
              "(%.0f/s)\n",
              static_cast<unsigned long long>(storm.storm_reports),
              static_cast<double>(storm.storm_reports) / storm.seconds,
              static_cast<unsigned long long>(storm.storm_admitted),
              static_cast<unsigned long long>(storm.storm_refused),
              static_cast<unsigned long long>(storm.storm_news), static_cast<unsigned long long>(storm.checks),
              static_cast<double>(storm.checks) / storm.seconds);
  std::printf("ratio of news verdict p99, storm / no storm: %.2f\n",
              hsbench::percentile(storm.verdict, 99) / std::max(hsbench::percentile(quiet.verdict, 99), 1e-3));
  return 0;
}
