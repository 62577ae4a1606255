#include "sweeps/target_sources.hpp"

#include <algorithm>
#include <set>

namespace healthsweep::sweeps {

using namespace healthsweep::sweeps::decide;

namespace {

int priority(std::string_view source) {
  if (source == TargetSources::static_source) return 0;
  if (source == TargetSources::engine_source) return 1;
  if (source == TargetSources::postgres_source) return 2;
  return 3;
}

}  // namespace

bool operator==(const TargetSpec& a, const TargetSpec& b) {
  const bool same_tcp = a.tcp.has_value() == b.tcp.has_value() &&
                        (!a.tcp || (a.tcp->host == b.tcp->host && a.tcp->port == b.tcp->port));
  return a.id == b.id && a.container == b.container && a.http == b.http && same_tcp &&
         a.paused == b.paused && a.on_engine == b.on_engine && a.instance == b.instance;
}

TargetSpec TargetSources::merge(const std::string& id) const {
  TargetSpec out;
  out.id = id;
  for (const auto& [source, specs] : by_source_) {  // priority order
    auto it = specs.find(id);
    if (it == specs.end()) continue;
    const auto& s = it->second;
    if (out.container.empty()) out.container = s.container;
    if (out.http.empty()) out.http = s.http;
    if (!out.tcp) out.tcp = s.tcp;
    out.paused = out.paused || s.paused;
    if (out.instance.empty()) out.instance = s.instance;
    out.on_engine = out.on_engine || source == engine_source;
  }
  return out;
}

TargetSources::Diff TargetSources::replace(std::string_view source, std::vector<TargetSpec> specs) {
  auto it = std::find_if(by_source_.begin(), by_source_.end(),
                         [&](const auto& p) { return p.first == source; });
  if (it == by_source_.end()) {
    by_source_.emplace_back(std::string(source), std::map<std::string, TargetSpec, std::less<>>{});
    std::stable_sort(by_source_.begin(), by_source_.end(), [](const auto& a, const auto& b) {
      return priority(a.first) < priority(b.first);
    });
    it = std::find_if(by_source_.begin(), by_source_.end(),
                      [&](const auto& p) { return p.first == source; });
  }
  std::set<std::string> touched;
  for (const auto& [id, _] : it->second) touched.insert(id);
  it->second.clear();
  for (auto& s : specs) {
    touched.insert(s.id);
    const std::string id = s.id;
    it->second.insert_or_assign(id, std::move(s));
  }

  Diff diff;
  for (const auto& id : touched) {
    const bool anywhere = std::any_of(by_source_.begin(), by_source_.end(),
                                      [&](const auto& p) { return p.second.count(id) > 0; });
    auto current = merged_.find(id);
    if (!anywhere) {
      if (current != merged_.end()) {
        merged_.erase(current);
        diff.removals.push_back(id);
      }
      continue;
    }
    TargetSpec next = merge(id);
    if (current == merged_.end()) diff.added.insert(id);
    if (current == merged_.end() || !(current->second == next)) {
      merged_.insert_or_assign(id, next);
      diff.upserts.push_back(std::move(next));
    }
  }
  return diff;
}

}  // namespace healthsweep::sweeps
