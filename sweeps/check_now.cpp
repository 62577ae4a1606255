#include "sweeps/check_now.hpp"

#include "sweeps/fleet.hpp"
#include "sweeps/proactive/target_check.hpp"

namespace healthsweep::sweeps {

namespace net = boost::asio;
using namespace healthsweep::sweeps::decide;

namespace {

net::awaitable<Evidence> check_one(net::any_io_executor ex, const Fleet* fleet, clients::engine::EngineClient* engine,
                                   clients::http::HttpChecker* http, const config::Proactive* proactive,
                                   std::string target) {
  auto spec = fleet->spec(target);
  if (!spec)
    co_return Evidence{target, Layer::reactive, Verdict::unknown, "target left", false, std::chrono::steady_clock::now()};
  co_return co_await proactive::check_target(ex, *spec, engine, http, proactive->timeout, Layer::reactive);
}

}  // namespace

reactive::ReactiveLayer::Check check_now(net::any_io_executor ex, const Fleet& fleet,
                                         clients::engine::EngineClient* engine, clients::http::HttpChecker& http,
                                         const config::Proactive& proactive) {
  // Not a coroutine lambda: everything the check needs goes into check_one's
  // own frame, so no capture has to outlive the call.
  return [=, &fleet, &http, &proactive](const reactive::ReactiveLayer::Report& r) {
    return check_one(ex, &fleet, engine, &http, &proactive, r.target);
  };
}

}  // namespace healthsweep::sweeps
