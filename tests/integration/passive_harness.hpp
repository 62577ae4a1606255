// A PassiveLayer driven in-process on its own io_context, with real metrics
// and liveness objects, recording the evidence and source-health changes it
// reports (and when it reported them).
#pragma once

#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/passive/passive_layer.hpp"
#include "tests/support/redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <functional>

namespace healthsweep::sweeps::passive_test {
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::passive;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Seen {
  Evidence evidence;
  Clock::time_point at;  // when the sink got it
};

inline config::Redis redis_config(const std::string& url, std::chrono::milliseconds reconcile_interval,
                                  bool keyspace_events = true) {
  config::Redis cfg;
  cfg.enabled = true;
  cfg.url = url;
  cfg.heartbeat_key = "hb:{id}";
  cfg.keyspace_events = keyspace_events;
  cfg.reconcile_interval = reconcile_interval;
  return cfg;
}

inline PassiveOptions fast_options(std::chrono::milliseconds grace = 2s) {
  PassiveOptions o;
  o.initial_grace = grace;
  o.connect_timeout = 1s;
  o.command_timeout = 2s;
  o.backoff_initial = 50ms;
  o.backoff_max = 300ms;
  return o;
}

class PassiveHarness {
 public:
  PassiveHarness(const config::Redis& cfg, PassiveOptions opts,
                 std::chrono::milliseconds stale_after = 60s) {
    opts.stale_after = stale_after;  // start() enables passive and redis with it
    layer = std::make_unique<PassiveLayer>(
        ioc.get_executor(), cfg, metrics, live,
        [this](Evidence e) { seen.push_back({std::move(e), Clock::now()}); },
        [this](bool h) { health.push_back(h); }, opts);
  }
  ~PassiveHarness() {
    layer->stop();
    run_for(50ms);  // let the session coroutine see the stop and end
    layer.reset();
    run_for(20ms);
  }

  // Runs the loop until pred() holds or `limit` passes; `each` runs between
  // handlers every ~10 ms (heart-beating from the test thread).
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit,
                 const std::function<void()>& each = {}) {
    const auto end = Clock::now() + limit;
    auto next_each = Clock::now();
    while (!pred()) {
      if (Clock::now() >= end) return false;
      if (each && Clock::now() >= next_each) {
        each();
        next_each = Clock::now() + 10ms;
      }
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_for(5ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d, const std::function<void()>& each = {}) {
    run_until([] { return false; }, d, each);
  }
  bool wait_healthy(std::chrono::milliseconds limit = 15s) {
    return run_until([&] { return layer->source_healthy(); }, limit);
  }

  int count(const std::string& target, Verdict v) const {
    int n = 0;
    for (const auto& s : seen) n += s.evidence.target == target && s.evidence.verdict == v;
    return n;
  }
  int count(Verdict v) const {
    int n = 0;
    for (const auto& s : seen) n += s.evidence.verdict == v;
    return n;
  }
  const Seen* first(const std::string& target, Verdict v) const {
    for (const auto& s : seen)
      if (s.evidence.target == target && s.evidence.verdict == v) return &s;
    return nullptr;
  }

  boost::asio::io_context ioc;
  metrics::Metrics metrics{"test"};
  metrics::LivenessRegistry live;
  std::vector<Seen> seen;
  std::vector<bool> health;
  std::unique_ptr<PassiveLayer> layer;
};

inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace healthsweep::sweeps::passive_test
