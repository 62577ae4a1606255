// Untrusted bytes from the network, as the listener reads them: requests
// (pipelined, one after another on the same bytes, as a keep-alive session
// reads them) parsed with the listener's limits, then the daemon's real
// routes (daemon_routes: the same wiring App uses) over real Components built
// from a configuration with static targets, the reactive layer and a bearer
// token: the router, auth, the hook body parser, the fleet's JSON, /metrics,
// sweeps and resets all run; the loop is polled after each request so the
// checks they start run too. Every answer is a status 200-599 that serializes.
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "daemon/components.hpp"
#include "daemon/routes.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"

namespace {

namespace http = boost::beast::http;
using namespace healthsweep;

constexpr const char* kConfig = R"(
listen: "127.0.0.1:9470"  # never bound: the harness calls the routes directly
targets:
  static:
    - id: ws-1
    - id: "agent:2.b_c"
    - id: "paused-1"
      paused: true
sweeps:
  reactive: { enabled: true, coalesce_window: 100ms }
remediation:
  restart: { enabled: false }
)";

struct Daemon {
  boost::asio::io_context ioc{1};
  config::Config cfg;
  metrics::Metrics metrics{"fuzz"};
  metrics::LivenessRegistry liveness;
  std::unique_ptr<daemon::Components> components;
  daemon::Routes routes;

  Daemon() {
    spdlog::set_level(spdlog::level::off);
    auto loaded = config::load_string(kConfig, "/nonexistent/fuzz/healthsweep.yaml");
    if (!loaded.config) {
      for (const auto& e : loaded.errors) std::fprintf(stderr, "fuzz_http_request: %s\n", e.to_string().c_str());
      std::abort();
    }
    cfg = std::move(*loaded.config);
    cfg.token = "tok";
    components = std::make_unique<daemon::Components>(ioc, cfg, metrics, liveness);
    components->start();
    routes = daemon::daemon_routes(*components, metrics, liveness, cfg);
  }
};

void serialize(daemon::Response& res) {
  http::serializer<false, http::string_body> sr{res};
  boost::beast::error_code ec;
  std::size_t bytes = 0;
  while (!sr.is_done() && !ec)
    sr.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
      bytes += boost::beast::buffer_bytes(buffers);
      sr.consume(boost::beast::buffer_bytes(buffers));
    });
  if (ec || bytes == 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Daemon* d = new Daemon;  // lives for the whole run, as the daemon's does
  auto rest = boost::asio::buffer(data, size);
  for (int requests = 0; rest.size() > 0 && requests < 16; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);   // HttpLimits' defaults
    parser.body_limit(64 * 1024);
    boost::system::error_code ec;
    while (!parser.is_done() && rest.size() > 0) {
      const auto n = parser.put(rest, ec);
      rest += n;
      if (ec == http::error::need_more) { ec = {}; if (n == 0) break; continue; }
      if (ec || n == 0) break;
    }
    if (ec || !parser.is_done()) break;  // the session answers 4xx or closes
    daemon::Request req = parser.release();
    const bool keep_alive = req.keep_alive();
    auto res = daemon::route(d->routes, std::move(req));
    if (res.result_int() < 200 || res.result_int() > 599) std::abort();
    res.keep_alive(keep_alive);
    serialize(res);
    d->ioc.poll();  // checks started by the hook or a sweep
    d->ioc.restart();
    if (!keep_alive) break;
  }
  return 0;
}
