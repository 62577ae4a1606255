// Builds the components a configuration asks for and connects them:
// layers -> fleet (state machine) -> effects (remediator, metrics, admin API).
// The only file that knows them all; App owns one of these.
#pragma once

#include <boost/asio/io_context.hpp>
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

  void start();
  void stop();
  void reconfigure(const config::Config& cfg);  // SIGHUP, already validated

  // For the routes.
  std::string targets_json() const;
  std::optional<std::string> target_json(std::string_view id) const;
  HookAnswer hook(HookReport&& report);
  bool sweep(std::string_view id);
  bool reset(std::string_view id);

  // Remediations still running (shutdown waits for them).
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::daemon
