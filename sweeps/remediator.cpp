#include "sweeps/remediator.hpp"
#include "clients/net/log_failure.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "clients/engine/client.hpp"
#include "clients/http/webhook_client.hpp"
#include "metrics/metrics.hpp"
#include "metrics/time_format.hpp"

namespace healthsweep::sweeps {

using namespace healthsweep::sweeps::decide;

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;

namespace net = boost::asio;

namespace {
constexpr int stop_timeout_seconds = 10;
constexpr auto webhook_timeout = std::chrono::seconds(5);
}  // namespace

Remediator::Remediator(net::any_io_executor ex, const config::Restart& policy, EngineClient* engine,
                       WebhookClient* webhook, metrics::Metrics& metrics, ResultHandler on_result)
    : ex_(ex), policy_(policy), engine_(engine), webhook_(webhook), metrics_(metrics),
      on_result_(std::move(on_result)) {}

void Remediator::configure(const config::Restart& policy) { policy_ = policy; }

void Remediator::execute(const RemediationOrder& order) {
  ++*in_flight_;
  net::co_spawn(ex_, run(order), clients::net::log_failure("remediation", [counter = in_flight_] { --*counter; }));
}

net::awaitable<void> Remediator::run(RemediationOrder order) {
  std::pair<bool, std::string> result;
  if (order.kind == RemediationKind::restart)
    result = co_await restart_container(order);
  else
    result = co_await call_webhook(order);
  auto& [ok, detail] = result;
  metrics_.remediation(to_string(order.kind), ok ? "ok" : "error");
  if (ok)
    spdlog::info("target {}: {} done: {}", order.target, to_string(order.kind), detail);
  else
    spdlog::error("target {}: {} failed: {}", order.target, to_string(order.kind), detail);
  on_result_(order, ok, std::move(detail));
}

net::awaitable<std::pair<bool, std::string>> Remediator::restart_container(const RemediationOrder& o) {
  if (!engine_) co_return std::pair{false, std::string("no engine configured")};
  if (o.container.empty()) co_return std::pair{false, std::string("target has no container")};
  auto info = co_await engine_->inspect(o.container);
  if (!info.ok()) co_return std::pair{false, info.error};
  // A stopped container only needs starting; a running one (unhealthy, or up
  // but not proving alive) is restarted.
  if (!info.value.running && !info.value.restarting) {
    auto r = co_await engine_->start(o.container);
    if (!r.ok()) co_return std::pair{false, r.error};
    co_return std::pair{true, "started container " + o.container + " (was " + info.value.status + ")"};
  }
  auto r = co_await engine_->restart(o.container, stop_timeout_seconds);
  if (!r.ok()) co_return std::pair{false, r.error};
  co_return std::pair{true, "restarted container " + o.container};
}

net::awaitable<std::pair<bool, std::string>> Remediator::call_webhook(const RemediationOrder& o) {
  if (!webhook_ || policy_.webhook_url.empty())
    co_return std::pair{false, std::string("no webhook_url configured")};
  boost::json::object body;
  body["target"] = o.target;
  if (o.container.empty()) body["container"] = nullptr; else body["container"] = o.container;
  body["action"] = "restart";
  body["reason"] = o.reason;
  body["at"] = metrics::format_rfc3339_ms(std::chrono::system_clock::now());
  auto outcome = co_await webhook_->post(policy_.webhook_url, boost::json::serialize(body),
                                         std::chrono::duration_cast<std::chrono::milliseconds>(webhook_timeout));
  co_return std::pair{outcome.alive, outcome.detail};
}

}  // namespace healthsweep::sweeps
