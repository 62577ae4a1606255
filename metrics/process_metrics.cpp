#include "metrics/process_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/families.hpp"
#include "metrics/register_family.hpp"

namespace healthsweep::metrics {

struct ProcessMetrics::Series {
  prometheus::Gauge* rss;
  prometheus::Gauge* vsize;
  prometheus::Counter* cpu;
  prometheus::Gauge* open_fds;
  prometheus::Gauge* max_fds;
  prometheus::Gauge* start_time;
};

namespace {

// Seconds since the epoch at which this process started: boot time from
// /proc/stat plus the process's start tick from /proc/self/stat.
double process_start_time(long long start_ticks) {
  std::ifstream stat("/proc/stat");
  std::string key;
  double btime = 0;
  while (stat >> key) {
    if (key == "btime") { stat >> btime; break; }
    stat.ignore(4096, '\n');
  }
  return btime + static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

ProcessMetrics::~ProcessMetrics() = default;

ProcessMetrics::ProcessMetrics(prometheus::Registry& r) : series_(std::make_unique<Series>()) {
  auto gauge = [&](const FamilySpec& f) { return &register_family<prometheus::Gauge>(r, f).Add({}); };
  series_->rss = gauge(family::process_resident_memory);
  series_->vsize = gauge(family::process_virtual_memory);
  series_->cpu = &register_family<prometheus::Counter>(r, family::process_cpu).Add({});
  series_->open_fds = gauge(family::process_open_fds);
  series_->max_fds = gauge(family::process_max_fds);
  series_->start_time = gauge(family::process_start_time);
  refresh();
}

void ProcessMetrics::refresh() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  // Fields after the command name (which may contain spaces) start at ") ".
  const auto close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(line.substr(close + 2));
    std::string f;
    long long utime = 0, stime = 0, start = 0, vsize = 0, rss_pages = 0;
    for (int i = 3; fields >> f; ++i) {
      if (i == 14) utime = std::stoll(f);
      else if (i == 15) stime = std::stoll(f);
      else if (i == 22) start = std::stoll(f);
      else if (i == 23) vsize = std::stoll(f);
      else if (i == 24) { rss_pages = std::stoll(f); break; }
    }
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double cpu = static_cast<double>(utime + stime) / ticks;
    if (cpu > last_cpu_seconds_) {
      series_->cpu->Increment(cpu - last_cpu_seconds_);
      last_cpu_seconds_ = cpu;
    }
    series_->vsize->Set(static_cast<double>(vsize));
    series_->rss->Set(static_cast<double>(rss_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    if (series_->start_time->Value() == 0) series_->start_time->Set(process_start_time(start));
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  series_->open_fds->Set(static_cast<double>(fds));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) series_->max_fds->Set(static_cast<double>(lim.rlim_cur));
}

}  // namespace healthsweep::metrics
