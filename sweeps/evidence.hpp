// What a detection layer saw about one target. Layers produce these and hand
// them to the state machine; they never change a target's state themselves.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace healthsweep::sweeps {

enum class Layer { passive, proactive, reactive, admin };
enum class Verdict { alive, dead, unknown };

struct Evidence {
  std::string target;
  Layer layer = Layer::proactive;
  Verdict verdict = Verdict::unknown;
  std::string reason;
  // When the fact became true (a heartbeat's TTL deadline, the engine's event
  // time), not when we noticed it: detection latency is measured from here.
  std::chrono::steady_clock::time_point observed_at{};
};

constexpr std::string_view to_string(Layer l) {
  switch (l) {
    case Layer::passive: return "passive";
    case Layer::proactive: return "proactive";
    case Layer::reactive: return "reactive";
    case Layer::admin: return "admin";
  }
  return "?";
}

constexpr std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::alive: return "alive";
    case Verdict::dead: return "dead";
    case Verdict::unknown: return "unknown";
  }
  return "?";
}

}  // namespace healthsweep::sweeps
