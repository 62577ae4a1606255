// Builds the components a configuration asks for and connects them:
// layers -> fleet (state machine) -> effects (remediator, metrics, admin API).
// The only file that knows them all; App owns one of these.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "daemon/routes.hpp"

namespace healthsweep::metrics { class Metrics; class LivenessRegistry; }

namespace healthsweep::daemon {

class Components {
 public:
  Components(boost::asio::io_context& ioc, const config::Config& cfg, metrics::Metrics& metrics,
             metrics::LivenessRegistry& liveness);
  ~Components();
  Components(const Components&) = delete;
  Components& operator=(const Components&) = delete;

  // listening: the listener's address ("127.0.0.1:9470"), for the default of
  // cluster.advertise.
  void start(const std::string& listening = {});
  void stop();
  void reconfigure(const config::Config& cfg);  // SIGHUP, already validated

  // For the routes.
  // GET /admin/targets (this instance's), built in stretches with a turn of
  // the loop between them.
  boost::asio::awaitable<TargetPage> local_targets(TargetQuery q) const;
  std::optional<std::string> target_json(std::string_view id) const;
  // A report for a target owned here is checked here; with the cluster
  // section, one owned by a peer is forwarded to it (cluster/hook_routing.hpp).
  HookAnswer hook(HookReport&& report, HookRequest&& as_sent);
  CheckAnswer sweep(std::string_view id);
  bool reset(std::string_view id);
  // GET /admin/targets?scope=fleet, from PostgreSQL (with the cluster section).
  bool lists_fleet() const;
  boost::asio::awaitable<FleetPage> fleet_targets(TargetQuery q);
  // GET /admin/cluster; none without the cluster section.
  std::optional<std::string> cluster_json() const;

  // Remediations still running plus events not yet in PostgreSQL.
  std::size_t in_flight() const;
  // At shutdown, after stop(): waits at most `grace` for the remediations in
  // flight, then for the store to write what they and the rest queued
  // (Store::drain); what is left stays in the spool.
  boost::asio::awaitable<void> drain(std::chrono::milliseconds grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::daemon
