// The proactive layer's outputs wired to a Fleet as daemon/components.cpp
// wires them, for the benchmarks that run the real ProactiveLayer
// (bench_proactive_sweep, bench_process_arming).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "sweeps/fleet.hpp"
#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/target_sources.hpp"

namespace hsbench {

// A daemon config with one engine at `socket` whose containers labelled
// `label` are targets, sweeping only when asked (interval 1 h).
inline healthsweep::config::Config engine_config(const std::string& socket, const std::string& label) {
  healthsweep::config::Config cfg;
  cfg.engine.enabled = true;
  cfg.engine.socket = socket;
  cfg.targets.engine_label = label;
  cfg.proactive.interval = std::chrono::hours(1);
  return cfg;
}

// on_discovered, if given, sees each discovered set before the Fleet does.
inline healthsweep::sweeps::proactive::ProactiveOutputs fleet_outputs(
    healthsweep::sweeps::Fleet& fleet,
    std::function<void(const std::vector<healthsweep::sweeps::decide::TargetSpec>&)> on_discovered = {}) {
  using healthsweep::sweeps::TargetSources;
  using healthsweep::sweeps::decide::Layer;
  using healthsweep::sweeps::decide::TargetSpec;
  healthsweep::sweeps::proactive::ProactiveOutputs out;
  out.evidence = fleet.sink();
  out.discovered = [&fleet, on_discovered = std::move(on_discovered)](std::vector<TargetSpec> specs) {
    if (on_discovered) on_discovered(specs);
    fleet.replace_source(TargetSources::engine_source, std::move(specs));
  };
  out.started = [&fleet](const std::string& id, const std::string& why) {
    fleet.begin_grace(id, Layer::proactive, why);
  };
  out.engine_healthy = [&fleet](bool healthy) { fleet.set_source_healthy("engine", healthy); };
  out.targets = [&fleet](std::size_t, std::vector<TargetSpec>& specs) -> std::optional<std::size_t> {
    for (const auto& id : fleet.ids())
      if (auto s = fleet.spec(id); s && s->checkable())
        specs.push_back(std::move(*s));
    return std::nullopt;  // one stretch
  };
  return out;
}

}  // namespace hsbench
