#include "sweeps/proactive/container_table.hpp"

namespace healthsweep::sweeps::proactive {

bool ContainerTable::note(std::string_view name, std::string_view id, bool running, const Finding& finding,
                          std::string_view target) {
  const auto key = name.empty() ? id : name;
  if (key.empty()) return false;
  auto it = by_name_.find(key);
  if (it == by_name_.end()) it = by_name_.emplace(std::string(key), Slot{}).first;
  Slot& s = it->second;
  if (s.list == list_) return false;
  s.list = list_;
  Entry& e = s.entry;
  if (e.id != id) {  // new, or the name now belongs to another container
    unindex(*it);     // while the index still hashes the old id
    e.id.assign(id);
    index(*it);
  }
  // assign() writes into the string's own buffer whenever the new value
  // fits: an unchanged container allocates nothing.
  e.target.assign(target);
  e.running = running;
  e.finding.verdict = finding.verdict;
  e.finding.conclusive = finding.conclusive;
  e.finding.reason.assign(finding.reason);
  return true;
}

void ContainerTable::index(const Node& n) {
  if (n.second.entry.id.empty()) return;
  // The node noted last wins an id (a container renamed: its new name).
  if (auto [at, added] = by_id_.insert(&n); !added) {
    by_id_.erase(at);
    by_id_.insert(&n);
  }
}

void ContainerTable::unindex(const Node& n) {
  // Only its own: a container renamed keeps its id, now under its new name.
  if (n.second.entry.id.empty()) return;
  if (auto at = by_id_.find(std::string_view(n.second.entry.id)); at != by_id_.end() && *at == &n) by_id_.erase(at);
}

const ContainerTable::Slot* ContainerTable::slot_of(std::string_view name_or_id) const {
  if (name_or_id.empty()) return nullptr;
  if (auto it = by_name_.find(name_or_id); it != by_name_.end()) return &it->second;
  if (auto n = by_id_.find(name_or_id); n != by_id_.end()) return &(*n)->second;
  return nullptr;
}

bool ContainerTable::in_list(std::string_view name_or_id) const {
  const auto* s = slot_of(name_or_id);
  return s && s->list == list_;
}

std::size_t ContainerTable::end_list() {
  return boost::unordered::erase_if(by_name_, [&](const auto& kv) {
    if (kv.second.list == list_) return false;
    unindex(kv);
    return true;
  });
}

const ContainerTable::Entry* ContainerTable::find(std::string_view name_or_id) const {
  const auto* s = slot_of(name_or_id);
  return s ? &s->entry : nullptr;
}

const std::string* ContainerTable::target_of(std::string_view name, std::string_view id) const {
  for (const auto key : {name, id})
    if (const auto* e = find(key); e && !e->target.empty()) return &e->target;
  return nullptr;
}

}  // namespace healthsweep::sweeps::proactive
