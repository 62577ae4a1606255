// The configuration load of a fleet-sized targets.static (issue 15's memory
// goal: the startup's and every reload's peak). Loads a config of N static
// targets shaped as bench/fleet.sh writes them (90 % `{ id: h-i }`, 10 % with
// an `http` URL) and prints, per load, the wall time and the peak resident
// memory the load added (VmHWM after the load minus VmRSS before it; the high
// water mark is reset through /proc/self/clear_refs first). Each load runs in
// a forked child, so one load's freed-but-kept heap never lowers the next
// one's figure. Baseline in the same run: the same text loaded as one
// yaml-cpp tree, as every load was before targets.static was read a chunk at
// a time (config/static_list.hpp).
// Usage: bench_config_load [N [ROUNDS]]   (default 100000 3)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_stats.hpp"
#include "config/config.hpp"
#include "config/reader.hpp"

using healthsweep::bench::median;

namespace {

using namespace healthsweep;

std::string fleet_yaml(std::size_t n) {
  std::string y = "listen: \"127.0.0.1:0\"\nlog: { level: info }\ntargets:\n  engine_label: healthsweep.target\n  static:\n";
  const std::size_t http = n / 10;
  for (std::size_t i = 0; i < n - http; ++i) y += "    - { id: h-" + std::to_string(i) + " }\n";
  for (std::size_t i = 0; i < http; ++i)
    y += "    - { id: w-" + std::to_string(i) + ", http: \"http://127.0.0.1:" + std::to_string(20000 + i % 5000) +
         "/health/" + std::to_string(i) + "\" }\n";
  y += "redis: { url: \"redis://127.0.0.1:6379/0\" }\n";
  return y;
}

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  return -1;
}

struct Sample {
  double seconds = 0;
  double peak_mib = 0;  // VmHWM after - VmRSS before
  std::size_t targets = 0;
};

// One load in a child process; the figures come back through a pipe.
Sample load_in_child(const std::string& yaml, bool one_tree) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    { std::ofstream("/proc/self/clear_refs") << "5"; }  // VmHWM := VmRSS
    const long before = status_kib("VmRSS");
    const auto start = std::chrono::steady_clock::now();
    const auto result = one_tree ? config::detail::load_string_as_one_tree(yaml, "fleet.yaml")
                                 : config::load_string(yaml, "fleet.yaml");
    Sample s;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s.peak_mib = static_cast<double>(status_kib("VmHWM") - before) / 1024.0;
    s.targets = result.config ? result.config->targets.static_targets.size() : 0;
    if (::write(fds[1], &s, sizeof s) != static_cast<ssize_t>(sizeof s)) ::_exit(1);
    ::_exit(0);
  }
  ::close(fds[1]);
  Sample s;
  if (::read(fds[0], &s, sizeof s) != static_cast<ssize_t>(sizeof s)) std::abort();
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string yaml = fleet_yaml(n);
  std::printf("config of %zu static targets, %.1f MiB of text; %d rounds, each load in its own child\n", n,
              static_cast<double>(yaml.size()) / (1024.0 * 1024.0), rounds);
  std::vector<double> tree_s, tree_mib, cut_s, cut_mib;
  for (int r = 0; r < rounds; ++r) {
    // Alternating, so drift on a noisy machine falls on both alike.
    const Sample tree = load_in_child(yaml, true);
    const Sample cut = load_in_child(yaml, false);
    if (tree.targets != n || cut.targets != n) {
      std::fprintf(stderr, "bench_config_load: loaded %zu and %zu targets of %zu\n", tree.targets, cut.targets, n);
      return 1;
    }
    std::printf("  round %d: one tree %6.3f s, peak +%6.1f MiB | a chunk at a time %6.3f s, peak +%6.1f MiB\n", r + 1,
                tree.seconds, tree.peak_mib, cut.seconds, cut.peak_mib);
    tree_s.push_back(tree.seconds);
    tree_mib.push_back(tree.peak_mib);
    cut_s.push_back(cut.seconds);
    cut_mib.push_back(cut.peak_mib);
  }
  std::printf("median: peak +%.1f MiB vs +%.1f MiB (BASELINE one tree): ratio %.2f; time %.3f s vs %.3f s: ratio %.2f\n",
              median(cut_mib), median(tree_mib), median(cut_mib) / median(tree_mib), median(cut_s), median(tree_s),
              median(cut_s) / median(tree_s));
  return 0;
}
