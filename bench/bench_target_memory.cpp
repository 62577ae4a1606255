// Where a target's memory goes (issue 15's "Memory" goal: <= 1 KiB per
// target plus fixed buffers). Builds the daemon's per-target structures the
// way daemon/components.cpp does, one at a time, with N heartbeat-only static
// targets, and prints the heap each one holds (glibc mallinfo2: bytes in use
// in the main arena plus mmapped chunks, malloc's own chunk headers included)
// and the bytes per target. Single-threaded, so every allocation is in the
// main arena and the figures are exact, not sampled. The baseline in the same
// run is the ids themselves held in a std::vector<std::string>. Last, the
// peak (not what stays) while a discovery of N/9 containers is handed to the
// passive layer, the old way against the new, in the same run.
// Usage: bench_target_memory [N...]   (default 10000 100000)
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <spdlog/async.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/spdlog.h>

#include "bench/heap_in_use.hpp"
#include "config/config.hpp"
#include "daemon/logging.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/fleet.hpp"
#include "sweeps/passive/heartbeat_deadlines.hpp"
#include "sweeps/proactive/container_table.hpp"
#include "sweeps/target_sources.hpp"

namespace {

using namespace healthsweep;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// The peak of what C++ allocations hold while one step runs (mallinfo2
// tells only the present): every operator new and delete in this binary is
// counted through malloc_usable_size.
long long g_live = 0;
long long g_peak = 0;

void* counted(void* p) {
  if (!p) throw std::bad_alloc();
  g_live += static_cast<long long>(malloc_usable_size(p));
  g_peak = std::max(g_peak, g_live);
  return p;
}
void uncounted(void* p) noexcept {
  if (!p) return;
  g_live -= static_cast<long long>(malloc_usable_size(p));
  std::free(p);
}

// The most the heap held above where it was while `step` ran.
template <class Step>
long long peak_during(Step&& step) {
  const auto before = g_live;
  g_peak = g_live;
  step();
  return g_peak - before;
}

using bench::heap_in_use;

std::string target_id(std::size_t i) { return "t-" + std::to_string(i); }

std::string fleet_yaml(std::size_t n) {
  std::string y = "listen: \"127.0.0.1:0\"\ntargets:\n  static:\n";
  for (std::size_t i = 0; i < n; ++i) y += "    - { id: " + target_id(i) + " }\n";
  return y;
}

std::vector<sweeps::decide::TargetSpec> specs_of(const config::Config& cfg) {  // as components.cpp does
  std::vector<sweeps::decide::TargetSpec> out;
  for (const auto& s : cfg.targets.static_targets)
    out.push_back(sweeps::decide::TargetSpec{s.id, s.container, s.http, s.tcp, s.paused});
  return out;
}

// Heap held by what `build` leaves in `keep` (the structure stays alive while measured).
template <class Build>
long long held_by(Build&& build) {
  malloc_trim(0);
  const auto before = heap_in_use();
  build();
  return heap_in_use() - before;
}

void row(const char* what, long long bytes, std::size_t n) {
  std::printf("  %-52s %10.2f MiB %8.1f B/target\n", what, static_cast<double>(bytes) / (1 << 20),
              n ? static_cast<double>(bytes) / static_cast<double>(n) : 0.0);
}

void measure(std::size_t n) {
  std::printf("N = %zu heartbeat-only static targets\n", n);
  std::printf("  sizeof: TargetSpec %zu, TargetRecord %zu, StaticTarget %zu\n", sizeof(sweeps::decide::TargetSpec),
              sizeof(sweeps::decide::TargetRecord), sizeof(config::StaticTarget));

  std::vector<std::string> ids;
  row("baseline: ids in a vector<string>", held_by([&] {
        ids.reserve(n);
        for (std::size_t i = 0; i < n; ++i) ids.push_back(target_id(i));
      }),
      n);

  const std::string yaml = fleet_yaml(n);
  std::optional<config::Config> cfg;
  row("config::Config (static_targets), retained", held_by([&] {
        auto loaded = config::load_string(yaml, "bench.yaml");
        if (!loaded.config) std::abort();
        cfg = std::move(loaded.config);
      }),
      n);
  std::optional<config::Config> cfg_copy;
  row("  + one more Config copy (Components keeps its own)", held_by([&] { cfg_copy = *cfg; }), n);

  std::vector<sweeps::decide::TargetSpec> specs;
  row("vector<TargetSpec> handed to replace_source (transient)", held_by([&] { specs = specs_of(*cfg); }), n);

  {
    sweeps::TargetSources sources;
    row("TargetSources", held_by([&] { sources.replace("static", specs); }), n);
  }
  {
    std::optional<sweeps::decide::StateMachine> machine;
    row("StateMachine (records, index, heap)", held_by([&] {
          machine.emplace(*cfg);
          const auto now = steady::now();
          for (const auto& s : specs) (void)machine->upsert(s, now);
        }),
        n);
  }
  {
    boost::asio::io_context io;
    metrics::Metrics metrics("bench");
    std::optional<sweeps::Fleet> fleet;
    row("Fleet (sources + machine + effects), replace_source", held_by([&] {
          fleet.emplace(io.get_executor(), *cfg, metrics);
          fleet->replace_source("static", specs);
        }),
        n);
    std::vector<std::string> fleet_ids;
    row("fleet.ids() handed to the passive layer (transient)", held_by([&] { fleet_ids = fleet->ids(); }), n);
    sweeps::passive::HeartbeatDeadlines deadlines(60s);
    row("passive HeartbeatDeadlines::set_targets", held_by([&] { (void)deadlines.set_targets(fleet_ids, steady::now()); }),
        n);

    // A discovery joins the fleet (issue 15's start-up peak: 11,200
    // containers among 100,000 targets). The passive layer is told of it
    // the old way (every id, compared with what it watches) and the new
    // way (the added ids only), each on its own copy of the fleet.
    const std::size_t discovered = n / 9;
    std::vector<std::string> added;
    std::vector<sweeps::decide::TargetSpec> containers;
    for (std::size_t i = 0; i < discovered; ++i) {
      added.push_back("c-" + std::to_string(i));
      containers.push_back(sweeps::decide::TargetSpec{added.back(), added.back(), {}, {}, false});
    }
    sweeps::passive::HeartbeatDeadlines told_all(60s), told_change(60s);
    (void)told_all.set_targets(fleet_ids, steady::now());
    (void)told_change.set_targets(fleet_ids, steady::now());
    fleet->replace_source("engine", std::move(containers));
    const auto all_way = peak_during([&] {
      const auto every = fleet->ids();  // as components.cpp did after every source change
      (void)told_all.set_targets(every, steady::now());
    });
    const auto change_way = peak_during([&] { (void)told_change.change_targets(added, {}, steady::now()); });
    std::printf("  %zu discovered join %zu: the passive layer's peak while told of it\n", discovered, n);
    row("  baseline: every id (fleet.ids() + set_targets)", all_way, discovered);
    row("  the change only (change_targets)", change_way, discovered);
    std::printf("  %-52s %10.2f\n", "  ratio (change / every id)",
                static_cast<double>(change_way) / static_cast<double>(all_way));
    if (told_all.size() != told_change.size()) std::abort();
  }
  {
    // The proactive layer's table of the engine's containers, N/9 of them
    // as the fleet's canned engine lists them: a 64-hex-digit id, a short
    // name (the target), running and healthy.
    const std::size_t count = n / 9;
    const sweeps::proactive::Finding healthy{sweeps::decide::Verdict::alive, true, "container running, healthy"};
    sweeps::proactive::ContainerTable table;
    char id[65];
    row("container table (N/9 containers, 64-digit ids)", held_by([&] {
          table.begin_list();
          for (std::size_t i = 0; i < count; ++i) {
            std::snprintf(id, sizeof id, "%016zx%016zx%016zx%016zx", i, i * 7919, i * 104729, i * 2654435761);
            const std::string name = "t-" + std::to_string(i);
            table.note(name, id, true, healthy, name);
          }
          table.end_list();
        }),
        count);
    if (table.size() != count) std::abort();
  }
  std::printf("\n");
}

// Fixed buffers: what does not grow with the fleet.
void fixed_buffers() {
  std::printf("fixed buffers\n");
  std::optional<spdlog::details::thread_pool> pool;
  const auto queue = held_by([&] { pool.emplace(daemon::log_queue_lines, 1); });
  std::printf("  %-52s %10.2f MiB (%zu lines x %zu bytes, preallocated)\n", "async log queue",
              static_cast<double>(queue) / (1 << 20), daemon::log_queue_lines, sizeof(spdlog::details::async_msg));
  std::printf("\n");
}

}  // namespace

void* operator new(std::size_t n) { return counted(std::malloc(n ? n : 1)); }
void* operator new(std::size_t n, std::align_val_t a) {
  const auto align = static_cast<std::size_t>(a);
  return counted(std::aligned_alloc(align, (n + align - 1) / align * align));
}
void operator delete(void* p) noexcept { uncounted(p); }
void operator delete(void* p, std::size_t) noexcept { uncounted(p); }
void operator delete(void* p, std::align_val_t) noexcept { uncounted(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { uncounted(p); }

int main(int argc, char** argv) {
  std::vector<std::size_t> ns;
  for (int i = 1; i < argc; ++i) ns.push_back(std::strtoull(argv[i], nullptr, 10));
  if (ns.empty()) ns = {10000, 100000};
  spdlog::set_level(spdlog::level::off);  // the fleet logs one line per target added
  fixed_buffers();
  for (auto n : ns) measure(n);
}
