// What the engine's last list said of each container: its full id, the
// target it is (a discovery label or a static target naming it), whether it
// runs and its state as a finding. The sweep's evidence, the event stream
// (whose target an event is about) and the process watch (a running
// container's full id) read it; only the sweep's list writes it.
//
// Kept across sweeps and updated in place (issue 15, memory): a sweep over
// an unchanged fleet allocates nothing here. Before, six maps keyed by each
// container's name and by its id were rebuilt every sweep; at 11,200
// containers they held ~20 MiB, and their nodes, freed and allocated again
// every 15 s, kept ~15 MiB of freed heap resident.
//
// Each container's entry is one node of a node-based map, so it never moves;
// the index by id holds pointers to those nodes, not a second copy of every
// 64-character id and name (326 B a container instead of 510:
// bench/bench_target_memory.cpp, "container table").
#pragma once

#include "sweeps/proactive/target_check.hpp"

#include <boost/unordered/unordered_flat_set.hpp>
#include <boost/unordered/unordered_map.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace healthsweep::sweeps::proactive {

class ContainerTable {
 public:
  struct Entry {
    std::string id;      // the engine's full id
    std::string target;  // the target this container is; empty: none
    Finding finding;     // its state (container_finding)
    bool running = false;
  };

  // A list begins: what it does not name is dropped by end_list(). Until
  // then every reader sees the last list's entries (or this one's, once
  // noted): an event read between two of the sweep's turns finds its target.
  void begin_list() { ++list_; }
  // What the list says of a container (its name; the id when it has none).
  // A container named twice in one list (the labelled list, then the
  // unfiltered one) keeps what it was noted with first: false then.
  bool note(std::string_view name, std::string_view id, bool running, const Finding& finding,
            std::string_view target);
  // Named by the list begun last.
  bool in_list(std::string_view name_or_id) const;
  // Drops the containers the list did not name; returns how many.
  std::size_t end_list();

  // By name, else by full id; null when unknown. Valid until end_list()
  // drops it (entries never move).
  const Entry* find(std::string_view name_or_id) const;
  // The target of the container with this name or id (the name first).
  const std::string* target_of(std::string_view name, std::string_view id) const;
  std::size_t size() const { return by_name_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  struct Slot {
    Entry entry;
    std::uint32_t list = 0;  // the list that named it last
  };
  using ByName = boost::unordered_map<std::string, Slot, Hash, Equal>;
  using Node = ByName::value_type;
  // The index by id: a node, hashed and compared by its entry's id. An id
  // held by two nodes (a container renamed, both names in the table until
  // the list ends) is indexed to the one noted last.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const { return Hash{}(id); }
    std::size_t operator()(const Node* n) const { return Hash{}(n->second.entry.id); }
  };
  struct IdEqual {
    using is_transparent = void;
    static std::string_view id(std::string_view s) { return s; }
    static std::string_view id(const Node* n) { return n->second.entry.id; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const { return id(a) == id(b); }
  };
  const Slot* slot_of(std::string_view name_or_id) const;
  void index(const Node& n);
  void unindex(const Node& n);

  ByName by_name_;
  boost::unordered_flat_set<const Node*, IdHash, IdEqual> by_id_;
  std::uint32_t list_ = 0;
};

}  // namespace healthsweep::sweeps::proactive
