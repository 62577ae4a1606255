// Liveness registry: each subsystem records a tick when it last did its job
// successfully; a subsystem whose last tick is older than its stale_after is
// stale. Apart from that, the loop that drives a subsystem records a loop
// tick on every turn, whether or not its source answered: a stale subsystem
// is a dependency outage (/admin/liveness, healthsweep_subsystem_up), a late
// loop is the daemon itself stuck (the systemd watchdog, SPEC section 7).
// Pure bookkeeping: callers pass the time, so tests need no sleeping.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace healthsweep::metrics {

// cluster: this instance's lease in PostgreSQL renewed (cluster section).
enum class Subsystem { passive, proactive, reactive, redis, engine, store, cluster };
inline constexpr std::size_t subsystem_count = 7;
inline constexpr std::array<Subsystem, subsystem_count> all_subsystems{
    Subsystem::passive, Subsystem::proactive, Subsystem::reactive, Subsystem::redis,
    Subsystem::engine,  Subsystem::store,     Subsystem::cluster};
std::string_view to_string(Subsystem s);

enum class Status { ok, stale, disabled };
std::string_view to_string(Status s);

struct SubsystemView {
  Subsystem subsystem;
  Status status;
  std::optional<std::chrono::system_clock::time_point> last_tick;  // none: never ticked
  double age_seconds;  // since last tick, or since enabled when never ticked
  double stale_after_seconds;
};

struct LivenessView {
  Status status;  // ok or stale; disabled subsystems never make it stale
  std::array<SubsystemView, subsystem_count> subsystems;
};

class LivenessRegistry {
 public:
  using steady = std::chrono::steady_clock;
  using system = std::chrono::system_clock;

  // Every subsystem starts disabled.
  LivenessRegistry() = default;

  // Enabling starts the stale clock: a subsystem that never ticks goes stale
  // stale_after after it was enabled, not immediately.
  void enable(Subsystem s, std::chrono::milliseconds stale_after,
              steady::time_point now = steady::now());
  void disable(Subsystem s);
  bool enabled(Subsystem s) const;

  void tick(Subsystem s, steady::time_point now = steady::now(),
            system::time_point wall = system::now());

  LivenessView view(steady::time_point now = steady::now(),
                    system::time_point wall = system::now()) const;
  // True when every enabled subsystem is fresh.
  bool all_fresh(steady::time_point now = steady::now()) const;

  // The loop's own heartbeat. watch_loop says that a loop drives `s` and
  // turns at least once per `budget` (its schedule plus the longest its
  // awaits may legitimately take); the clock starts now. Calling it again
  // (a reload) changes the budget and keeps the last loop tick.
  void watch_loop(Subsystem s, std::chrono::milliseconds budget, steady::time_point now = steady::now());
  // Called by the loop on every turn, whether or not its source answered.
  void loop_tick(Subsystem s, steady::time_point now = steady::now());
  // The first watched loop of an enabled subsystem that has not turned
  // within its budget; none while the daemon itself works (feeds the
  // systemd watchdog together with the event loop turning).
  std::optional<Subsystem> late_loop(steady::time_point now = steady::now()) const;

 private:
  struct Entry {
    bool enabled = false;
    std::chrono::milliseconds stale_after{60000};
    steady::time_point since{};  // last tick, or enable time
    std::optional<system::time_point> last_tick_wall;
    std::optional<std::chrono::milliseconds> loop_budget;  // none: no loop watched
    steady::time_point loop_since{};  // last loop tick, or when the watch began
  };
  bool fresh(const Entry& e, steady::time_point now) const;
  std::array<Entry, subsystem_count> entries_{};
};

// JSON body of GET /admin/liveness (SPEC section 4).
std::string to_json(const LivenessView& view);

}  // namespace healthsweep::metrics
