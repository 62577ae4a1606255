// "Check this target now", for the reactive hook and the admin sweep: the
// target's spec from the fleet, then the proactive layer's check_target (the
// engine's inspect beside its HTTP/TCP checks, at once). The reactive layer
// is handed this as its Check; it knows no fleet and no other layer.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "config/config.hpp"
#include "sweeps/reactive/reactive_layer.hpp"

namespace healthsweep::clients::engine { class EngineClient; }
namespace healthsweep::clients::http { class HttpChecker; }

namespace healthsweep::sweeps {

class Fleet;

// `proactive` is read at each check (its timeout follows a reload); fleet,
// engine (may be null), http and proactive outlive the returned function.
reactive::ReactiveLayer::Check check_now(boost::asio::any_io_executor ex, const Fleet& fleet,
                                         clients::engine::EngineClient* engine, clients::http::HttpChecker& http,
                                         const config::Proactive& proactive);

}  // namespace healthsweep::sweeps
