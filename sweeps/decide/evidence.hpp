// What a detection layer saw about one target. Layers produce these and hand
// them to the state machine; they never change a target's state themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace healthsweep::sweeps::decide {

// One byte each: a TargetRecord keeps a cause layer and three verdicts in
// what would otherwise be padding (target.hpp).
enum class Layer : std::uint8_t { passive, proactive, reactive, admin };
enum class Verdict : std::uint8_t { alive, dead, unknown };

struct Evidence {
  std::string target;
  Layer layer = Layer::proactive;
  Verdict verdict = Verdict::unknown;
  std::string reason;
  // Conclusive evidence is a fact that needs no repeating (the heartbeat key is
  // gone, the engine says the container exited): a dead verdict takes the
  // target offline at once. Inconclusive evidence (an HTTP check failed, health
  // says unhealthy) counts toward failure_threshold/success_threshold.
  bool conclusive = false;
  // When the fact became true (a heartbeat's TTL deadline, the engine's event
  // time), not when we noticed it: detection latency is measured from here.
  std::chrono::steady_clock::time_point observed_at{};
};

// Where layers hand their evidence; the daemon routes it to the state machine.
using EvidenceSink = std::function<void(Evidence)>;

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

}  // namespace healthsweep::sweeps::decide
