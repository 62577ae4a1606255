#include "tests/support/metrics_text.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "metrics/families.hpp"

namespace healthsweep::testing {
namespace {

struct Series {
  std::string name;
  std::map<std::string, std::string> labels;  // sorted: label order never matters
  bool operator==(const Series&) const = default;
};

// `name{a="x",b="y"}` up to the end of `text` or the first space after the
// closing brace; nullopt when malformed. `rest` gets what follows.
std::optional<Series> parse_series(std::string_view text, std::string_view* rest = nullptr) {
  Series s;
  const auto name_end = text.find_first_of("{ ");
  s.name = std::string(text.substr(0, name_end));
  if (s.name.empty()) return std::nullopt;
  std::size_t i = name_end == std::string_view::npos ? text.size() : name_end;
  if (i < text.size() && text[i] == '{') {
    ++i;
    while (i < text.size() && text[i] != '}') {
      const auto eq = text.find('=', i);
      if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"') return std::nullopt;
      std::string key(text.substr(i, eq - i)), value;
      std::size_t j = eq + 2;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) ++j;
        value += text[j];
      }
      if (j >= text.size()) return std::nullopt;
      s.labels.emplace(std::move(key), std::move(value));
      i = j + 1;
      if (i < text.size() && text[i] == ',') ++i;
    }
    if (i >= text.size()) return std::nullopt;
    ++i;  // '}'
  }
  if (rest) *rest = text.substr(std::min(i, text.size()));
  return s;
}

// The family a series belongs to, and whether its label names are the
// family's (histograms: _bucket adds "le"); the reason when not.
std::string misfit(const Series& s) {
  using metrics::Kind;
  for (const auto& f : metrics::all_families()) {
    std::string_view suffix;
    if (s.name != f.name) {
      if (f.kind != Kind::histogram || !s.name.starts_with(f.name)) continue;
      suffix = std::string_view(s.name).substr(f.name.size());
      if (suffix != "_sum" && suffix != "_count" && suffix != "_bucket") continue;
    }
    std::set<std::string> want;
    for (auto l : f.labels)
      if (!l.empty()) want.emplace(l);
    if (suffix == "_bucket") want.emplace("le");
    std::set<std::string> have;
    for (const auto& [k, v] : s.labels) have.insert(k);
    if (have == want) return {};
    std::string names;
    for (const auto& w : want) names += (names.empty() ? "" : ", ") + w;
    return "its family " + std::string(f.name) + " has the labels {" + names + "}";
  }
  return "no family of that name (metrics/families.hpp)";
}


// Each sample line of `exposition` with its parsed series and value text.
template <class F>
void for_each_sample(std::string_view exposition, F&& f) {
  while (!exposition.empty()) {
    const auto eol = exposition.find('\n');
    const auto line = exposition.substr(0, eol);
    exposition = eol == std::string_view::npos ? std::string_view{} : exposition.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    std::string_view rest;
    const auto s = parse_series(line, &rest);
    if (!s) continue;
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    f(*s, rest);
  }
}

double number(std::string_view text) {
  if (text.starts_with("+Inf")) return std::numeric_limits<double>::infinity();
  double v = std::numeric_limits<double>::quiet_NaN();
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

}  // namespace

double family_total(std::string_view exposition, std::string_view family) {
  const auto& all = metrics::all_families();
  if (std::none_of(all.begin(), all.end(), [&](const auto& f) { return f.name == family; })) {
    ADD_FAILURE() << "family " << family << " cannot exist: no family of that name (metrics/families.hpp)";
    return std::numeric_limits<double>::quiet_NaN();
  }
  double sum = 0;
  for_each_sample(exposition, [&](const Series& s, std::string_view value) {
    if (s.name == family) sum += number(value);
  });
  return sum;
}

double series_value(std::string_view exposition, std::string_view series) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const auto wanted = parse_series(series);
  if (!wanted) {
    ADD_FAILURE() << "malformed series " << series;
    return nan;
  }
  if (const auto why = misfit(*wanted); !why.empty()) {
    ADD_FAILURE() << "series " << series << " cannot exist: " << why;
    return nan;
  }
  std::optional<double> found;
  for_each_sample(exposition, [&](const Series& s, std::string_view value) {
    if (!found && s == *wanted) found = number(value);
  });
  return found.value_or(0);
}

}  // namespace healthsweep::testing
