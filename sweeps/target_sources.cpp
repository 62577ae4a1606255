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

std::optional<TargetSpec> TargetSources::merge(std::string_view id) const {
  std::optional<TargetSpec> out;
  for (const auto& [source, specs] : by_source_) {  // priority order
    auto it = specs.find(id);
    if (it == specs.end()) continue;
    if (!out) {
      out.emplace();
      out->id = std::string(id);
    }
    const auto& s = *it;
    if (out->container.empty()) out->container = s.container();
    if (out->http.empty()) out->http = s.http();
    if (!out->tcp) out->tcp = s.tcp();
    out->paused = out->paused || s.paused;
    if (out->instance.empty()) out->instance = s.instance();
    out->on_engine = out->on_engine || source == engine_source;
  }
  return out;
}

std::optional<TargetSpec> TargetSources::find(std::string_view id) const { return merge(id); }

void TargetSources::for_each(const std::function<void(const TargetSpec&)>& f) const {
  // A k-way walk over the sources' sets, all ordered by id.
  std::vector<std::pair<Specs::const_iterator, Specs::const_iterator>> at;
  at.reserve(by_source_.size());
  for (const auto& [_, specs] : by_source_) at.emplace_back(specs.begin(), specs.end());
  for (;;) {
    const std::string* next = nullptr;
    for (const auto& [it, end] : at)
      if (it != end && (!next || it->id < *next)) next = &it->id;
    if (!next) return;
    const std::string id = *next;
    for (auto& [it, end] : at)
      if (it != end && it->id == id) ++it;
    if (auto merged = merge(id)) f(*merged);
  }
}

TargetSources::Diff TargetSources::replace(std::string_view source, std::vector<TargetSpec> specs) {
  auto it = std::find_if(by_source_.begin(), by_source_.end(),
                         [&](const auto& p) { return p.first == source; });
  if (it == by_source_.end()) {
    by_source_.emplace_back(std::string(source), Specs{});
    std::stable_sort(by_source_.begin(), by_source_.end(), [](const auto& a, const auto& b) {
      return priority(a.first) < priority(b.first);
    });
    it = std::find_if(by_source_.begin(), by_source_.end(),
                      [&](const auto& p) { return p.first == source; });
  }
  Specs& stored = it->second;

  // In id order; of one id named twice, the later wins.
  std::stable_sort(specs.begin(), specs.end(), [](const TargetSpec& a, const TargetSpec& b) { return a.id < b.id; });
  const auto last_of_id = [&](std::size_t i) {
    while (i + 1 < specs.size() && specs[i + 1].id == specs[i].id) ++i;
    return i;
  };

  // The source's set is updated in place: a spec it already holds unchanged
  // is neither copied nor merged again, so a list of 11,000 containers with
  // one gone costs a walk, not 11,000 merges and allocations (issue 15: one
  // discovery held the loop 13 ms; bench/bench_fleet_discovery.cpp). Only an
  // id whose spec in this source changed can change in the merged view.
  Diff diff;
  const auto changed = [&](const std::string& id, std::optional<TargetSpec> was) {
    auto is = merge(id);
    if (!is) {
      if (was) {
        diff.removals.push_back(id);
        --known_;
      }
      return;
    }
    if (!was) {
      diff.added.insert(id);
      ++known_;
    }
    if (!was || !(*was == *is)) diff.upserts.push_back(std::move(*is));
  };
  auto at = stored.begin();
  std::size_t i = 0;
  while (at != stored.end() || i < specs.size()) {
    if (i < specs.size()) i = last_of_id(i);
    if (i >= specs.size() || (at != stored.end() && at->id < specs[i].id)) {
      // No longer named by this source.
      const std::string id = at->id;
      auto was = merge(id);
      at = stored.erase(at);
      changed(id, std::move(was));
    } else if (at == stored.end() || specs[i].id < at->id) {
      // Newly named by this source.
      auto was = merge(specs[i].id);
      const std::string id = specs[i].id;
      stored.insert(at, StoredSpec(specs[i]));
      changed(id, std::move(was));
      ++i;
    } else {
      if (!at->same_as(specs[i])) {
        auto was = merge(at->id);
        const std::string id = at->id;
        at = stored.erase(at);
        at = std::next(stored.insert(at, StoredSpec(specs[i])));
        changed(id, std::move(was));
      } else {
        ++at;
      }
      ++i;
    }
  }
  return diff;
}

}  // namespace healthsweep::sweeps
