// A state machine with a fake clock for the state_machine_*_test.cpp files:
// time is whatever the test says, nothing sleeps.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "sweeps/decide/state_machine.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class StateMachineTest : public ::testing::Test {
 protected:
  StateMachineTest() {
    cfg.proactive.failure_threshold = 2;
    cfg.proactive.success_threshold = 1;
    cfg.restart.backoff_initial = 10s;
    cfg.restart.backoff_max = 5min;
    cfg.restart.max_restarts = 5;
    cfg.restart.window = 10min;
    cfg.restart.startup_grace = 30s;
    cfg.fail_safe.max_offline_fraction = 0.3;
    cfg.fail_safe.min_targets = 10;
    cfg.fail_safe.window = 60s;
  }

  // (Re)creates the machine from `cfg`; settle 0 unless a test asks for it.
  void make(config::Duration settle = 0ms) {
    cfg.restart.settle = settle;
    sm = std::make_unique<StateMachine>(cfg, [this] { return wall0 + (now - t0); });
  }

  StateMachine& machine() {
    if (!sm) make();
    return *sm;
  }

  // Moves the fake clock to t0 + offset and ticks.
  Effects at(steady::duration offset) {
    now = t0 + offset;
    return machine().tick(now);
  }

  Effects add(const std::string& id, bool paused = false, std::string container = "") {
    TargetSpec spec;
    spec.id = id;
    spec.container = container.empty() ? "c-" + id : container;
    spec.paused = paused;
    return machine().upsert(spec, now);
  }

  Effects add_fleet(int n, const std::string& prefix = "ws-") {
    Effects fx;
    for (int i = 0; i < n; ++i) fx.append(add(prefix + std::to_string(i)));
    return fx;
  }

  // `n` targets (ws-0 .. ws-n-1) seen alive a minute before t0; the clock at t0.
  void add_fleet_online(int n) {
    now = t0 - 1min;
    add_fleet(n);
    for (int i = 0; i < n; ++i) alive("ws-" + std::to_string(i));
    now = t0;
  }

  Effects evidence(const std::string& id, Verdict verdict, bool conclusive = false,
                   Layer layer = Layer::proactive, std::string reason = "",
                   steady::time_point observed = {}) {
    Evidence ev;
    ev.target = id;
    ev.layer = layer;
    ev.verdict = verdict;
    ev.conclusive = conclusive;
    ev.reason = reason.empty() ? std::string(to_string(verdict)) + " by test" : reason;
    ev.observed_at = observed;
    return machine().submit(ev, now);
  }
  Effects dead(const std::string& id, bool conclusive = true, std::string reason = "container exited") {
    return evidence(id, Verdict::dead, conclusive, Layer::proactive, std::move(reason));
  }
  Effects alive(const std::string& id, std::string reason = "container running") {
    return evidence(id, Verdict::alive, false, Layer::proactive, std::move(reason));
  }

  State state(const std::string& id) {
    const TargetRecord* rec = machine().find(id);
    EXPECT_NE(rec, nullptr) << id;
    return rec ? rec->state : State::unknown;
  }

  static std::size_t count_orders(const Effects& fx, RemediationKind kind, bool suppressed) {
    return static_cast<std::size_t>(std::count_if(fx.orders.begin(), fx.orders.end(), [&](const auto& o) {
      return o.kind == kind && o.suppressed == suppressed;
    }));
  }
  static std::size_t restarts(const Effects& fx) { return count_orders(fx, RemediationKind::restart, false); }
  static std::size_t suppressed(const Effects& fx) { return count_orders(fx, RemediationKind::restart, true); }

  // The last transition of `fx`, which must have some.
  static const Transition& last(const Effects& fx) {
    EXPECT_FALSE(fx.transitions.empty());
    static const Transition none;
    return fx.transitions.empty() ? none : fx.transitions.back();
  }

  config::Config cfg;
  const steady::time_point t0 = steady::time_point{} + 1000h;
  const std::chrono::system_clock::time_point wall0 =
      std::chrono::system_clock::time_point{} + std::chrono::seconds(1795428000);  // 2026-11-23T10:00:00Z
  steady::time_point now = t0;
  std::unique_ptr<StateMachine> sm;
};

}  // namespace healthsweep::sweeps::testing
