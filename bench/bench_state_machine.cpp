// State machine throughput and memory (issue 4 performance goals):
// - evidence submissions per second on one core, against a baseline measured
//   in the same run: an unordered_map lookup + store of the same evidence
//   (what any per-target table costs at least);
// - resident memory per target at 100,000 targets (/proc/self/statm).
// Rates are per second of this thread's CPU time.
// Usage: bench_state_machine [targets=100000] [submissions=4000000]
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "bench/thread_cpu.hpp"

using namespace healthsweep::sweeps::decide;

namespace {

using healthsweep::bench::thread_cpu_seconds;

using namespace healthsweep;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

std::string target_id(int i) { return "workspace-" + std::to_string(i); }

// Submission i goes to a target spread over the fleet (not in id order).
int spread(int i, int targets) { return static_cast<int>(static_cast<long long>(i) * 7919 % targets); }

// What a fleet reports in steady state: mostly the same alive reasons again
// and again, from all three layers.
std::vector<healthsweep::sweeps::decide::Evidence> steady_evidence(int targets, int count) {
  static const char* reasons[] = {"heartbeat present", "container running", "http 200"};
  std::vector<healthsweep::sweeps::decide::Evidence> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    healthsweep::sweeps::decide::Evidence ev;
    ev.target = target_id(spread(i, targets));
    ev.layer = static_cast<healthsweep::sweeps::decide::Layer>(i % 3);
    ev.verdict = healthsweep::sweeps::decide::Verdict::alive;
    ev.reason = reasons[i % 3];
    out.push_back(std::move(ev));
  }
  return out;
}

// A fleet in trouble: targets alternate between dead and alive, so a large
// share of submissions change state (transitions, orders, deadlines).
std::vector<healthsweep::sweeps::decide::Evidence> churn_evidence(int targets, int count) {
  std::vector<healthsweep::sweeps::decide::Evidence> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    healthsweep::sweeps::decide::Evidence ev;
    const int t = spread(i, targets);
    ev.target = target_id(t);
    ev.layer = healthsweep::sweeps::decide::Layer::proactive;
    const bool dead = ((i / targets) + t) % 4 == 0;
    ev.verdict = dead ? healthsweep::sweeps::decide::Verdict::dead : healthsweep::sweeps::decide::Verdict::alive;
    ev.conclusive = dead && t % 2 == 0;
    ev.reason = dead ? "container exited (code 137)" : "container running";
    out.push_back(std::move(ev));
  }
  return out;
}

config::Config bench_config() {
  config::Config cfg;
  cfg.fail_safe.min_targets = 1 << 30;  // measure the machine, not a tripped fail-safe
  return cfg;
}

struct Run {
  double per_second;
  std::size_t transitions;
};

Run run_machine(healthsweep::sweeps::decide::StateMachine& sm, const std::vector<healthsweep::sweeps::decide::Evidence>& evidence, int submissions,
                steady::time_point& now) {
  std::size_t transitions = 0;
  const double start = thread_cpu_seconds();
  for (int i = 0; i < submissions; ++i) {
    now += 1us;
    healthsweep::sweeps::decide::Effects fx = sm.submit(evidence[static_cast<std::size_t>(i) % evidence.size()], now);
    transitions += fx.transitions.size();
  }
  return {submissions / (thread_cpu_seconds() - start), transitions};
}

// The baseline: find the target's entry by id and store the evidence in it.
struct PlainEntry {
  healthsweep::sweeps::decide::Verdict verdict;
  std::string reason;
  steady::time_point at;
};

double run_baseline(std::unordered_map<std::string, PlainEntry>& table,
                    const std::vector<healthsweep::sweeps::decide::Evidence>& evidence, int submissions, steady::time_point now) {
  std::size_t checksum = 0;
  const double start = thread_cpu_seconds();
  for (int i = 0; i < submissions; ++i) {
    now += 1us;
    const healthsweep::sweeps::decide::Evidence& ev = evidence[static_cast<std::size_t>(i) % evidence.size()];
    auto it = table.find(ev.target);
    if (it == table.end()) continue;
    it->second.verdict = ev.verdict;
    it->second.reason = ev.reason;
    it->second.at = now;
    checksum += it->second.reason.size();
  }
  const double took = thread_cpu_seconds() - start;
  if (checksum == 42) std::puts("");  // keep the loop
  return submissions / took;
}

}  // namespace

int main(int argc, char** argv) {
  const int targets = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int submissions = argc > 2 ? std::atoi(argv[2]) : 4000000;
  const config::Config cfg = bench_config();
  steady::time_point now = steady::now();

  // Memory first, before the evidence vectors exist.
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(targets));
  for (int i = 0; i < targets; ++i) ids.push_back(target_id(i));
  const long before = resident_bytes();
  healthsweep::sweeps::decide::StateMachine sm(cfg);
  for (int i = 0; i < targets; ++i) {
    healthsweep::sweeps::decide::TargetSpec spec;
    spec.id = ids[static_cast<std::size_t>(i)];
    spec.container = spec.id;
    sm.upsert(spec, now);
  }
  {
    auto warm = steady_evidence(targets, targets * 3);  // every layer of every target recorded
    for (const auto& ev : warm) sm.submit(ev, now);
  }
  const long after = resident_bytes();
  const double per_target = static_cast<double>(after - before) / targets;
  std::printf("memory: %d targets, %.0f bytes RSS per target (goal < 1024) %s\n", targets, per_target,
              per_target < 1024 ? "OK" : "OVER");

  std::unordered_map<std::string, PlainEntry> table;
  for (const auto& id : ids) table.emplace(id, PlainEntry{healthsweep::sweeps::decide::Verdict::unknown, "", now});

  const auto steady_set = steady_evidence(targets, 300000);
  run_baseline(table, steady_set, submissions / 4, now);  // warm up both
  run_machine(sm, steady_set, submissions / 4, now);
  const double base = run_baseline(table, steady_set, submissions, now);
  const Run steady_run = run_machine(sm, steady_set, submissions, now);
  std::printf("steady evidence: %.2fM submissions/s (goal >= 1M) %s; baseline map lookup+store %.2fM/s; "
              "ratio %.2f\n",
              steady_run.per_second / 1e6, steady_run.per_second >= 1e6 ? "OK" : "UNDER", base / 1e6,
              steady_run.per_second / base);

  const auto churn_set = churn_evidence(targets, 300000);
  const double churn_base = run_baseline(table, churn_set, submissions, now);
  const Run churn_run = run_machine(sm, churn_set, submissions, now);
  std::printf("churn evidence: %.2fM submissions/s, %zu transitions; baseline %.2fM/s; ratio %.2f\n",
              churn_run.per_second / 1e6, churn_run.transitions, churn_base / 1e6,
              churn_run.per_second / churn_base);

  // tick() with nothing due must not scan the fleet.
  const double tick_start = thread_cpu_seconds();
  const int ticks = 1000000;
  for (int i = 0; i < ticks; ++i) (void)sm.tick(now);
  std::printf("tick with nothing due: %.0f ns per call at %zu targets\n",
              (thread_cpu_seconds() - tick_start) * 1e9 / ticks, sm.size());
  return 0;
}
