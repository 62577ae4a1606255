// Standard process_* metrics (families.hpp: the names the Prometheus client libraries use),
// read from /proc at scrape time.
#pragma once

#include <memory>

namespace prometheus { class Registry; }

namespace healthsweep::metrics {

class ProcessMetrics {
 public:
  explicit ProcessMetrics(prometheus::Registry& registry);
  ~ProcessMetrics();
  void refresh();  // called just before each scrape

 private:
  struct Series;
  std::unique_ptr<Series> series_;  // pointers into the registry's families
  double last_cpu_seconds_ = 0.0;
};

}  // namespace healthsweep::metrics
