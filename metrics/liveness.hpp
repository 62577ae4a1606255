// Liveness registry: each subsystem records a tick when it last did its job
// successfully; a subsystem whose last tick is older than its stale_after is
// stale. Pure bookkeeping: callers pass the time, so tests need no sleeping.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace healthsweep::metrics {

enum class Subsystem { passive, proactive, reactive, redis, engine, store };
inline constexpr std::size_t subsystem_count = 6;
inline constexpr std::array<Subsystem, subsystem_count> all_subsystems{
    Subsystem::passive, Subsystem::proactive, Subsystem::reactive,
    Subsystem::redis,   Subsystem::engine,    Subsystem::store};
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
  // True when every enabled subsystem is fresh (feeds the systemd watchdog).
  bool all_fresh(steady::time_point now = steady::now()) const;

 private:
  struct Entry {
    bool enabled = false;
    std::chrono::milliseconds stale_after{60000};
    steady::time_point since{};  // last tick, or enable time
    std::optional<system::time_point> last_tick_wall;
  };
  bool fresh(const Entry& e, steady::time_point now) const;
  std::array<Entry, subsystem_count> entries_{};
};

// JSON body of GET /admin/liveness (SPEC section 4).
std::string to_json(const LivenessView& view);

}  // namespace healthsweep::metrics
