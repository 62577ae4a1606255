// Which targets exist: the union of what each source (static config, engine
// label discovery, postgres_query) says. A target present in several sources
// is merged field by field (static wins where it sets a field; paused if any
// source says so). A target that leaves every source is gone.
//
// Memory (issue 15): each source's specs are kept once, in a set ordered by
// id (the id is the key: no second copy of it), and the merged view is
// computed when asked (at most one lookup per source) instead of being kept
// as a second copy of every spec. At 100,000 targets this halves what the
// sources hold (bench/bench_target_memory.cpp). Each is kept as a StoredSpec
// (the id and flags inline, the checks behind a pointer that a heartbeat
// target leaves null): a set node of 80 B instead of TargetSpec's 216.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps {

class TargetSources {
 public:
  // Source names in priority order: earlier sources win a field conflict.
  static constexpr std::string_view static_source = "static";
  static constexpr std::string_view engine_source = "engine";
  static constexpr std::string_view postgres_source = "postgres";

  struct Diff {
    std::vector<decide::TargetSpec> upserts;  // new targets and changed specs, in id order
    std::set<std::string, std::less<>> added;  // the ids among upserts no source named before
    std::vector<std::string> removals;         // in id order
  };

  // Replaces everything `source` says; returns what changed in the merged view.
  Diff replace(std::string_view source, std::vector<decide::TargetSpec> specs);

  // The merged view: how many targets some source names, the merged spec of
  // one (nullopt when no source names it), and every merged spec in id order.
  std::size_t size() const { return known_; }
  std::optional<decide::TargetSpec> find(std::string_view id) const;
  void for_each(const std::function<void(const decide::TargetSpec&)>& f) const;

 private:
  struct ById {
    using is_transparent = void;
    bool operator()(const decide::StoredSpec& a, const decide::StoredSpec& b) const { return a.id < b.id; }
    bool operator()(const decide::StoredSpec& a, std::string_view b) const { return a.id < b; }
    bool operator()(std::string_view a, const decide::StoredSpec& b) const { return a < b.id; }
  };
  using Specs = std::set<decide::StoredSpec, ById>;

  // The merged spec of `id` over every source; replace() asks it before
  // and after changing one source's entry.
  std::optional<decide::TargetSpec> merge(std::string_view id) const;

  // source -> its specs, sources kept in priority order
  std::vector<std::pair<std::string, Specs>> by_source_;
  std::size_t known_ = 0;  // ids some source names
};

}  // namespace healthsweep::sweeps
