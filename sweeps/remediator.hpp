// Carries out the state machine's restart and webhook orders and reports
// each result back. It acts; it does not decide (no backoff or fail-safe
// here: an order that reaches it is already allowed).
//
// via engine: a stopped (exited, created) container is started; a running
// one (unhealthy, or not proving alive) is restarted with a 10 s stop
// timeout. via webhook: POST {"target","container","action","reason","at"}
// to webhook_url (timeout and retries in WebhookClient).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "sweeps/decide/target.hpp"

namespace healthsweep::clients::engine { class EngineClient; }
namespace healthsweep::clients::http { class WebhookClient; }

namespace healthsweep::metrics { class Metrics; }

namespace healthsweep::sweeps {


class Remediator {
 public:
  using ResultHandler = std::function<void(const decide::RemediationOrder&, bool ok, std::string detail)>;

  // `engine` may be null (no engine configured: restart orders fail with a
  // clear error); the clients outlive the remediator.
  Remediator(boost::asio::any_io_executor ex, const config::Restart& policy, clients::engine::EngineClient* engine,
             clients::http::WebhookClient* webhook, metrics::Metrics& metrics, ResultHandler on_result);

  void configure(const config::Restart& policy);
  void execute(const decide::RemediationOrder& order);
  std::size_t in_flight() const { return *in_flight_; }

 private:
  boost::asio::awaitable<void> run(decide::RemediationOrder order);
  boost::asio::awaitable<std::pair<bool, std::string>> restart_container(const decide::RemediationOrder& o);
  boost::asio::awaitable<std::pair<bool, std::string>> call_webhook(const decide::RemediationOrder& o);

  boost::asio::any_io_executor ex_;
  config::Restart policy_;
  clients::engine::EngineClient* engine_;
  clients::http::WebhookClient* webhook_;
  metrics::Metrics& metrics_;
  ResultHandler on_result_;
  std::shared_ptr<std::size_t> in_flight_ = std::make_shared<std::size_t>(0);
};

}  // namespace healthsweep::sweeps
