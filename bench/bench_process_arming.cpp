// Arming the process watch for a fleet of new containers (issue 15:
// 1,000 new containers armed within 5 s; before, one inspect at a time).
//
// The real ProactiveLayer with the daemon's own wiring (a Fleet, label
// discovery, an EngineClient) against a real engine whose containers carry
// the label: from the moment the first sweep hands the discovered targets
// to the Fleet until every running container's main process is watched
// through a pidfd. Each run is a fresh layer, so every container is new to
// it. Runs alternate between the worker counts given, so that the baseline
// (1: inspects one after another, the behaviour before issue 15) and the
// others see the same engine and the same machine in the same run.
//
// Usage: bench_process_arming SOCKET LABEL CONTAINERS [WORKERS...=1 4]
// bench/bench_process_arming.sh makes the containers, runs it and removes them.
#include <boost/asio/io_context.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/latency_support.hpp"
#include "bench/proactive_wiring.hpp"
#include "clients/engine/client.hpp"
#include "clients/http/checker.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/fleet.hpp"
#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/target_sources.hpp"

using namespace healthsweep;
using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::proactive;
namespace net = boost::asio;

namespace {

struct Run {
  std::size_t workers = 0, discovered = 0, watched = 0;
  double list_ms = 0;   // start -> the discovered set handed to the Fleet
  double armed_ms = 0;  // discovery -> every container watched (or the timeout)
  std::uint64_t inspects = 0;
};

Run measure(const std::string& socket, const std::string& label, std::size_t containers, std::size_t workers) {
  net::io_context io;
  metrics::Metrics metrics("bench");
  metrics::LivenessRegistry liveness;
  auto cfg = hsbench::engine_config(socket, label);  // one sweep: the first
  cfg.engine.watch_processes = true;
  Fleet fleet(io.get_executor(), cfg, metrics);
  HttpChecker http(io.get_executor());
  EngineClient engine(io.get_executor(), socket, cfg.engine.api_version, cfg.proactive.timeout);
  std::optional<hsbench::steady::time_point> discovered_at;
  Run r;
  r.workers = workers;
  ProactiveOutputs out = hsbench::fleet_outputs(fleet, [&](const std::vector<TargetSpec>& specs) {
    if (!discovered_at) discovered_at = hsbench::steady::now();
    r.discovered = specs.size();
  });
  ProactiveLayer layer(io.get_executor(), cfg, &engine, http, std::move(out), metrics, liveness);
  layer.arm_workers(workers);
  const auto t0 = hsbench::steady::now();
  layer.start();
  while (!discovered_at) io.run_one();
  r.list_ms = hsbench::ms_between(t0, *discovered_at);
  const auto requests_before = engine.requests_sent();
  const auto give_up = *discovered_at + std::chrono::seconds(180);
  while (layer.watched_processes() < containers && hsbench::steady::now() < give_up)
    io.run_one_for(std::chrono::milliseconds(100));
  r.armed_ms = hsbench::ms_between(*discovered_at, hsbench::steady::now());
  r.watched = layer.watched_processes();
  r.inspects = engine.requests_sent() - requests_before;
  layer.stop();
  fleet.stop();
  engine.close_idle();
  io.run_for(std::chrono::seconds(1));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SOCKET LABEL CONTAINERS [WORKERS...]\n", argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string socket = argv[1], label = argv[2];
  const auto containers = static_cast<std::size_t>(std::atol(argv[3]));
  std::vector<std::size_t> workers;
  for (int i = 4; i < argc; ++i) workers.push_back(static_cast<std::size_t>(std::atol(argv[i])));
  if (workers.empty()) workers = {1, 4};
  std::printf("process watch arming: %zu running containers, load %s\n", containers, hsbench::load_average().c_str());
  std::vector<Run> runs;
  for (auto w : workers) {
    runs.push_back(measure(socket, label, containers, w));
    const auto& r = runs.back();
    std::printf("  workers %zu: discovered %zu after %.1f ms, %zu/%zu watched %.1f ms after discovery"
                " (%llu engine requests meanwhile), load %s\n",
                r.workers, r.discovered, r.list_ms, r.watched, containers, r.armed_ms,
                static_cast<unsigned long long>(r.inspects), hsbench::load_average().c_str());
    std::fflush(stdout);
  }
  // Ratios against the first run with one worker (the baseline).
  for (const auto& base : runs) {
    if (base.workers != 1) continue;
    for (const auto& r : runs)
      if (r.workers != 1)
        std::printf("  ratio workers %zu / workers 1: %.3f (%.1f / %.1f ms)\n", r.workers, r.armed_ms / base.armed_ms,
                    r.armed_ms, base.armed_ms);
    break;
  }
  bool all = true;
  for (const auto& r : runs) all = all && r.watched == containers;
  return all ? 0 : 1;
}
