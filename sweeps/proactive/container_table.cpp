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
    unindex(e.id, key);
    e.id.assign(id);
    if (!id.empty()) name_by_id_.insert_or_assign(e.id, std::string(key));
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

void ContainerTable::unindex(std::string_view id, std::string_view name) {
  // Only its own: a container renamed keeps its id, now under its new name.
  if (auto n = name_by_id_.find(id); n != name_by_id_.end() && n->second == name) name_by_id_.erase(n);
}

const ContainerTable::Slot* ContainerTable::slot_of(std::string_view name_or_id) const {
  if (name_or_id.empty()) return nullptr;
  if (auto it = by_name_.find(name_or_id); it != by_name_.end()) return &it->second;
  if (auto n = name_by_id_.find(name_or_id); n != name_by_id_.end())
    if (auto it = by_name_.find(n->second); it != by_name_.end()) return &it->second;
  return nullptr;
}

bool ContainerTable::in_list(std::string_view name_or_id) const {
  const auto* s = slot_of(name_or_id);
  return s && s->list == list_;
}

std::size_t ContainerTable::end_list() {
  return boost::unordered::erase_if(by_name_, [&](const auto& kv) {
    if (kv.second.list == list_) return false;
    unindex(kv.second.entry.id, kv.first);
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
