// Reading one series out of a Prometheus text exposition in tests, checked
// against the families the daemon declares (metrics/families.hpp).
#pragma once

#include <string_view>

namespace healthsweep::testing {

// The value of `series` ("name" or `name{label="value",...}`, labels in any
// order) in `exposition`. A series no declared family can have (an unknown
// name, or label names other than its family's) is a test failure and NaN,
// so a misspelling cannot pass an "expected 0" check. A well-formed series
// that is absent reads 0: prometheus-cpp shows a labelled child only once it
// has been touched, and a counter nobody incremented has counted nothing.
double series_value(std::string_view exposition, std::string_view series);

// The sum of every series of `family` (a declared one: else a test failure
// and NaN), whatever their labels; 0 when it has none yet.
double family_total(std::string_view exposition, std::string_view family);

}  // namespace healthsweep::testing
