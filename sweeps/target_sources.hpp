// Which targets exist: the union of what each source (static config, engine
// label discovery, postgres_query) says. A target present in several sources
// is merged field by field (static wins where it sets a field; paused if any
// source says so). A target that leaves every source is gone.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
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
    std::vector<decide::TargetSpec> upserts;  // new targets and changed specs
    std::set<std::string, std::less<>> added;  // the ids among upserts no source named before
    std::vector<std::string> removals;
  };

  // Replaces everything `source` says; returns what changed in the merged view.
  Diff replace(std::string_view source, std::vector<decide::TargetSpec> specs);
  const std::map<std::string, decide::TargetSpec, std::less<>>& merged() const { return merged_; }

 private:
  decide::TargetSpec merge(const std::string& id) const;
  // source -> id -> spec, sources kept in priority order
  std::vector<std::pair<std::string, std::map<std::string, decide::TargetSpec, std::less<>>>> by_source_;
  std::map<std::string, decide::TargetSpec, std::less<>> merged_;
};

bool operator==(const decide::TargetSpec& a, const decide::TargetSpec& b);

}  // namespace healthsweep::sweeps
