// Reading the daemon's JSON objects leniently for display: a missing or null
// field shows as a fallback rather than stopping the command.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace healthsweep::ctl {

inline std::string text_of(const boost::json::object& o, std::string_view key, std::string_view fallback = "-") {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->as_string());
  return std::string(fallback);
}

inline long long integer_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<long long>() : 0;
}

// The target's evidence for one layer ("dead: connect refused"), empty when none.
inline std::string evidence_of(const boost::json::object& target, std::string_view layer) {
  const auto* e = target.if_contains("evidence");
  return e && e->is_object() ? text_of(e->as_object(), layer, "") : std::string();
}

}  // namespace healthsweep::ctl
