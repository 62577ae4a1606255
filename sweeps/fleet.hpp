// The fleet: the state machine on the event loop. Layers hand it evidence,
// sources hand it target lists; it runs the machine, arms one timer for the
// machine's next deadline, and passes every decision to the effects —
// metrics here, remediation orders and transitions to whoever subscribed
// (remediator, store, reactive layer). It decides nothing itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sweeps/decide/evidence.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps::decide {
class StateMachine;
struct PeerCounts;
}  // namespace healthsweep::sweeps::decide

namespace healthsweep::metrics { class Metrics; }

namespace healthsweep::sweeps {


class Fleet {
 public:
  using steady = std::chrono::steady_clock;
  using OrderHandler = std::function<void(const decide::RemediationOrder&)>;
  using TransitionHandler = std::function<void(const decide::Transition&)>;

  Fleet(boost::asio::any_io_executor ex, const config::Config& config, metrics::Metrics& metrics);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Effects (subscribe before the first evidence arrives).
  void on_order(OrderHandler h);            // restart and webhook orders, not suppressed
  void on_transition(TransitionHandler h);  // every transition, including added/removed

  // Where the target object's last_heartbeat comes from: the passive layer
  // knows every refresh, the state machine only the first after a lapse.
  using HeartbeatLookup =
      std::function<std::optional<std::chrono::system_clock::time_point>(std::string_view)>;
  void set_heartbeat_lookup(HeartbeatLookup lookup);

  void configure(const config::Config& config);

  // Inputs.
  void submit(decide::Evidence ev);
  decide::EvidenceSink sink();  // submit() as a function for the layers
  void replace_source(std::string_view source, std::vector<decide::TargetSpec> specs);
  void remediation_result(std::string_view id, decide::RemediationKind kind, bool ok, std::string_view detail);
  void begin_grace(std::string_view id, decide::Layer layer, std::string_view reason);
  bool reset(std::string_view id);  // false: unknown target
  void set_source_healthy(std::string_view source, bool healthy);
  // Several instances: what the other live members published (their targets
  // and how many are offline now), so the fail-safe judges the whole fleet.
  // Cheap when unchanged (called after every read of the member list).
  void set_peer_counts(const decide::PeerCounts& peers);
  // After a daemon restart: what the previous run left in PostgreSQL. A
  // target no source names yet takes it up when it appears.
  void restore(std::vector<decide::RestoredTarget> rows);

  // Several instances (issue 14): which of the sources' targets this
  // instance judges. The sources keep every target they name; only owned
  // ones (`here`) are in the state machine. Without a predicate all are
  // owned. `peer` and `nobody` only feed the cluster_targets_* gauges:
  // nobody is a target no member eligible to own it owns right now.
  enum class Owner { here, peer, nobody };
  using Owns = std::function<Owner(const decide::TargetSpec&)>;
  void set_ownership(Owns owns);
  // The predicate's answers may have changed (members joined or left, a
  // lease was lost or won): targets no longer owned are handed over (no
  // event, their rows stay), newly owned ones taken up in state unknown and
  // passed to on_taken_over, whose rows are to be restored (restore()).
  void reown();
  using TakenOverHandler = std::function<void(std::vector<std::string> ids)>;
  void on_taken_over(TakenOverHandler h);
  // Every target the sources name, owned here or not.
  std::size_t known() const;
  // The spec of a target some source names, owned here or not (the hook
  // finds a report's owner with it).
  std::optional<decide::TargetSpec> known_spec(std::string_view id) const;

  // Views.
  bool contains(std::string_view id) const;
  std::optional<decide::TargetSpec> spec(std::string_view id) const;
  std::vector<std::string> ids() const;
  std::size_t size() const;
  bool failsafe_active() const;
  // GET /admin/targets: the targets in `state` (all when none), as a JSON
  // array. With a limit or `after`, a page in id order of at most `limit`
  // (0: no limit) ids greater than `after`; `next` is set when more follow.
  // Cost: one pass over the fleet plus a partial sort of what matches.
  struct Page {
    std::string json;
    std::optional<std::string> next;
  };
  Page targets_page(std::optional<decide::State> state, std::optional<std::string_view> after,
                    std::size_t limit) const;
  // targets_page in two steps, for a caller that yields between stretches:
  // the ids of the page (the pass and the sort), then their JSON objects a
  // stretch at a time (an id gone meanwhile is left out).
  struct PageIds {
    std::vector<std::string> ids;
    std::optional<std::string> next;
  };
  PageIds page_ids(std::optional<decide::State> state, std::optional<std::string_view> after,
                   std::size_t limit) const;
  void append_targets(std::string& out, std::span<const std::string> ids) const;
  // The same without limit, in stretches the caller yields between (a
  // 100,000-target answer must not hold the loop): appends the JSON objects
  // of the targets in `state` among slots [from, from + max_slots) to `out`,
  // comma-separated (a comma first unless `out` is empty or ends in '['), and
  // returns where to go on; nullopt once every slot was visited.
  std::optional<std::size_t> append_targets(std::string& out, std::optional<decide::State> state,
                                            std::size_t from, std::size_t max_slots) const;
  std::optional<std::string> target_json(std::string_view id) const;
  const decide::StateMachine& machine() const;

  void stop();  // cancels the deadline timer

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::sweeps
