// Internal to metrics/: registers a family of families.hpp, checking that the
// builder asked for is the kind the table says (a mismatch is a bug found at
// start, never at scrape time).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "metrics/families.hpp"

namespace healthsweep::metrics {

template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, prometheus::Counter>) return Kind::counter;
  else if constexpr (std::is_same_v<T, prometheus::Gauge>) return Kind::gauge;
  else return Kind::histogram;
}

template <class T>
prometheus::Family<T>& register_family(prometheus::Registry& registry, const FamilySpec& spec) {
  if (spec.kind != kind_of<T>())
    throw std::logic_error("metric " + std::string(spec.name) + " is a " + std::string(to_string(spec.kind)));
  auto builder = [] {
    if constexpr (std::is_same_v<T, prometheus::Counter>) return prometheus::BuildCounter();
    else if constexpr (std::is_same_v<T, prometheus::Gauge>) return prometheus::BuildGauge();
    else return prometheus::BuildHistogram();
  }();
  return builder.Name(std::string(spec.name)).Help(std::string(spec.help)).Register(registry);
}

}  // namespace healthsweep::metrics
