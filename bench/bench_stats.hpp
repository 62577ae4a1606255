// Small statistics the benchmarks share.
#pragma once

#include <algorithm>
#include <vector>

namespace healthsweep::bench {

// The upper median (the middle element once sorted); v by value: sorted here.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace healthsweep::bench
