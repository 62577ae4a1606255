// Random operations on a small fleet, checking after every call what must
// always hold: every state change is reported, counts add up, paused and
// quarantined targets get no orders, no target exceeds max_restarts within
// the window, nothing is restarted while the fail-safe is on, and
// next_deadline() never lies in the past after a tick.
#include <map>
#include <set>
#include <random>
#include <vector>

#include "tests/unit/sweeps/decide/state_machine_fixture.hpp"

namespace healthsweep::sweeps::testing {
using namespace healthsweep::sweeps::decide;
namespace {

class RandomOperations : public StateMachineTest, public ::testing::WithParamInterface<unsigned> {
 protected:
  std::mt19937 rng{GetParam()};
  std::map<std::string, State> reported;  // state per target, as told by transitions
  std::map<std::string, std::vector<steady::time_point>> restart_times;
  std::set<std::string> paused_before;  // paused when the call began
  std::map<std::string, std::string> history;  // what happened to each target, for failure messages

  std::string stamp() const {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - t0).count()) + "ms ";
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  std::string some_target() { return "ws-" + std::to_string(pick(16)); }

  void check(const Effects& fx, bool ticked) {
    for (const Transition& t : fx.transitions) {
      if (t.added) {
        EXPECT_EQ(reported.count(t.target), 0u) << t.target;
      } else {
        ASSERT_EQ(reported.count(t.target), 1u) << t.target;
        EXPECT_EQ(reported[t.target], t.from) << t.target << " transition from a state it was not in";
      }
      reported[t.target] = t.to;
      history[t.target] += stamp() + std::string(to_string(t.from)) + "->" + std::string(to_string(t.to)) +
                           " (" + t.reason + ")\n";
      if (t.removed) {
        reported.erase(t.target);
        restart_times.erase(t.target);
      }
    }
    for (const RemediationOrder& o : fx.orders) {
      EXPECT_EQ(paused_before.count(o.target), 0u) << "order for paused " << o.target;
      if (o.suppressed || o.kind == RemediationKind::mark_offline) continue;
      EXPECT_FALSE(machine().failsafe_active() && !fx.failsafe_changed) << "acted while the fail-safe was on";
      history[o.target] += stamp() + "order " + std::string(to_string(o.kind)) + "\n";
      auto& times = restart_times[o.target];
      times.push_back(now);
      std::erase_if(times, [&](auto t) { return t <= now - cfg.restart.window; });
      EXPECT_LE(times.size(), static_cast<std::size_t>(cfg.restart.max_restarts)) << o.target << "\n"
                                                                                  << history[o.target];
    }
    std::array<std::size_t, state_count> counted{};
    machine().for_each([&](const TargetRecord& rec) {
      ++counted[static_cast<std::size_t>(rec.state)];
      ASSERT_EQ(reported.count(rec.spec.id), 1u);
      EXPECT_EQ(reported[rec.spec.id], rec.state) << rec.spec.id << " changed state silently";
      if (rec.spec.paused) {
        EXPECT_EQ(rec.state, State::paused);
      }
      if (rec.state == State::quarantined) {
        EXPECT_TRUE(rec.quarantined);
      }
    });
    EXPECT_EQ(counted, machine().counts_by_state());
    EXPECT_EQ(reported.size(), machine().size());
    paused_before.clear();
    machine().for_each([&](const TargetRecord& rec) {
      if (rec.spec.paused) paused_before.insert(rec.spec.id);
    });
    if (ticked) {
      const auto next = machine().next_deadline();
      if (next) {
        EXPECT_GT(*next, now);
      }
    }
  }

  void step() {
    now += std::chrono::milliseconds(pick(4) == 0 ? pick(40000) : pick(500));
    const std::string id = some_target();
    Effects fx;
    bool ticked = false;
    switch (pick(10)) {
      case 0: {
        TargetSpec spec;
        spec.id = id;
        spec.container = pick(5) == 0 ? "" : "c-" + id;
        spec.paused = pick(6) == 0;
        fx = machine().upsert(spec, now);
        break;
      }
      case 1:
        fx = pick(4) == 0 ? machine().remove(id, now) : machine().tick(now);
        ticked = true;
        break;
      case 2:
        fx = machine().remediation_result(id, pick(2) ? RemediationKind::restart : RemediationKind::webhook,
                                          pick(3) != 0, "result", now);
        break;
      case 3:
        if (pick(3) == 0) {
          // Due work first, so every order in the reset's effects follows the reset.
          check(machine().tick(now), true);
          restart_times.erase(id);
          fx = machine().reset(id, now);
        } else {
          fx = machine().begin_grace(id, Layer::proactive, "container started", now);
        }
        break;
      case 4:
        fx = machine().set_source_healthy(pick(2) ? "redis" : "engine", pick(4) != 0, now);
        break;
      default: {
        Evidence ev;
        ev.target = id;
        ev.layer = static_cast<Layer>(pick(4));
        ev.verdict = static_cast<Verdict>(pick(3));
        ev.conclusive = pick(2) == 0;
        ev.reason = "reason " + std::to_string(pick(5));
        if (pick(2)) ev.observed_at = now - std::chrono::milliseconds(pick(3000));
        fx = machine().submit(ev, now);
      }
    }
    if (!ticked) {
      check(fx, false);
      fx = machine().tick(now);
      ticked = true;
    }
    check(fx, ticked);
  }
};

TEST_P(RandomOperations, InvariantsHoldAfterEveryCall) {
  cfg.restart.max_restarts = 3;
  cfg.restart.window = 2min;
  cfg.restart.startup_grace = 20s;
  cfg.fail_safe.min_targets = 4;
  cfg.fail_safe.window = 30s;
  cfg.proactive.failure_threshold = 1 + pick(3);
  cfg.proactive.success_threshold = 1 + pick(2);
  make(std::chrono::milliseconds(pick(3) * 500));
  for (int i = 0; i < 20000 && !HasFailure(); ++i) step();
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomOperations, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));

}  // namespace
}  // namespace healthsweep::sweeps::testing
