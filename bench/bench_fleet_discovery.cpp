// What one engine discovery costs the event loop at fleet size (issue 15's
// "no full rescans for one change"): a Fleet holding N heartbeat-only static
// targets and an engine source of M labelled containers, and the engine's
// list handed to Fleet::replace_source (what the proactive layer's
// `discovered` does after a sweep whose list changed) with one container
// gone, then back. The baseline in the same run is the least any handover
// costs: copying the M specs once. Prints the median of R rounds of each.
// Usage: bench_fleet_discovery [N M R]   (default 100000 11000 21)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_stats.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/fleet.hpp"
#include "sweeps/target_sources.hpp"

using healthsweep::bench::median;

namespace {

using namespace healthsweep;
using sweeps::decide::TargetSpec;
using steady = std::chrono::steady_clock;

std::vector<TargetSpec> engine_specs(std::size_t m) {
  std::vector<TargetSpec> out;
  out.reserve(m);
  for (std::size_t i = 0; i < m; ++i) {
    TargetSpec s;
    s.id = "t-" + std::to_string(i);
    s.container = std::string(64 - std::to_string(i).size(), 'c') + std::to_string(i);
    s.on_engine = true;
    out.push_back(std::move(s));
  }
  return out;
}

template <class F>
double ms(F&& f) {
  const auto t0 = steady::now();
  f();
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const std::size_t m = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 11000;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 21;
  spdlog::set_level(spdlog::level::warn);

  config::Config cfg;
  boost::asio::io_context io;
  metrics::Metrics metrics("bench");
  sweeps::Fleet fleet(io.get_executor(), cfg, metrics);
  std::vector<TargetSpec> statics;
  for (std::size_t i = 0; i < n; ++i) statics.push_back(TargetSpec{"h-" + std::to_string(i), {}, {}, {}, false});
  fleet.replace_source(sweeps::TargetSources::static_source, std::move(statics));
  const auto all = engine_specs(m);
  fleet.replace_source(sweeps::TargetSources::engine_source, all);
  auto without_one = all;
  without_one.erase(without_one.begin() + static_cast<std::ptrdiff_t>(m / 2));

  std::vector<double> copy, gone, back, same;
  for (int r = 0; r < rounds; ++r) {
    std::vector<TargetSpec> a, b, c, d;
    copy.push_back(ms([&] { a = all; }));
    b = without_one;
    gone.push_back(ms([&] { fleet.replace_source(sweeps::TargetSources::engine_source, std::move(b)); }));
    c = all;
    back.push_back(ms([&] { fleet.replace_source(sweeps::TargetSources::engine_source, std::move(c)); }));
    d = all;
    same.push_back(ms([&] { fleet.replace_source(sweeps::TargetSources::engine_source, std::move(d)); }));
    io.poll();
  }
  // What each proactive sweep takes as its snapshot (Components'
  // checkable_targets: every record walked, the specs with something to
  // check copied), for comparison with the discovery.
  std::vector<double> snap;
  for (int r = 0; r < rounds; ++r) {
    std::vector<TargetSpec> out;
    snap.push_back(ms([&] {
      fleet.machine().for_each([&](const sweeps::decide::TargetRecord& rec) {
        if (rec.spec.checkable()) out.push_back(rec.spec.full());
      });
    }));
  }
  const double base = median(copy);
  std::printf("fleet: %zu static heartbeat targets + %zu engine containers; median of %d rounds\n", n, m, rounds);
  std::printf("  baseline: copy the %zu engine specs once                 %8.3f ms\n", m, base);
  std::printf("  replace_source, one container gone                        %8.3f ms  (%.1fx baseline)\n",
              median(gone), median(gone) / base);
  std::printf("  replace_source, the container back                        %8.3f ms  (%.1fx baseline)\n",
              median(back), median(back) / base);
  std::printf("  replace_source, nothing changed                           %8.3f ms  (%.1fx baseline)\n",
              median(same), median(same) / base);
  std::printf("  the sweep's snapshot of checkable targets (reference)     %8.3f ms  (%.1fx baseline)\n",
              median(snap), median(snap) / base);
  return 0;
}
