// Untrusted bytes from the network, as the daemon meets them: the fuzzer's
// bytes are sent on one TCP connection to the real listener (HttpServer on
// 127.0.0.1, port 0, with the daemon's limits and events: daemon/wiring.hpp),
// in pieces of the size the first byte says, then the sending side is shut.
// So the listener's own framing checks (header end, request-smuggling
// shapes, raw request-target), Beast's parser with the listener's limits,
// keep-alive and pipelining, then the daemon's real routes over real
// Components built from a configuration with static targets, the reactive
// layer and a bearer token: router, auth, hook body parser, fleet JSON,
// /metrics, sweeps and resets all run; the checks they start run on the
// same loop. Must hold: no crash, no hang; what comes back is a sequence of
// complete HTTP responses, each with a status 200-599.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/components.hpp"
#include "daemon/http_server.hpp"
#include "daemon/wiring.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;
using fuzz_support::nothrow;
using namespace healthsweep;

constexpr const char* kConfig = R"(
listen: "127.0.0.1:9470"  # the harness listens on port 0 instead
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
  net::io_context ioc{1};
  config::Config cfg;
  metrics::Metrics metrics{"fuzz"};
  metrics::LivenessRegistry liveness;
  std::unique_ptr<daemon::Components> components;
  daemon::Routes routes;
  std::unique_ptr<daemon::HttpServer> server;
  tcp::endpoint at;

  Daemon() {
    spdlog::set_level(spdlog::level::off);
    auto loaded = config::load_string(kConfig, "/nonexistent/fuzz/healthsweep.yaml");
    if (!loaded.config) {
      for (const auto& e : loaded.errors) std::fprintf(stderr, "fuzz_http_request: %s\n", e.to_string().c_str());
      std::abort();
    }
    cfg = std::move(*loaded.config);
    cfg.token = "tok";
    cfg.listen.port = 0;
    components = std::make_unique<daemon::Components>(ioc, cfg, metrics, liveness);
    routes = daemon::daemon_routes(*components, metrics, liveness, cfg);
    server = std::make_unique<daemon::HttpServer>(
        ioc.get_executor(), cfg.listen, [this](daemon::Request&& req) { return daemon::route(routes, std::move(req)); },
        daemon::listener_limits(cfg), daemon::daemon_http_events(metrics));
    server->start();
    components->start();
    const auto address = server->local_address();
    at = tcp::endpoint(net::ip::make_address("127.0.0.1"),
                       static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  }
};

// The client: sends the pieces (letting the listener run between them),
// shuts its sending side, reads everything until the listener closes.
net::awaitable<void> client(Daemon& d, std::vector<std::string_view> pieces, std::string& answer, bool& done) {
  auto socket = std::make_shared<tcp::socket>(d.ioc);
  auto [cec] = co_await socket->async_connect(d.at, nothrow);
  if (cec) std::abort();
  boost::system::error_code ignored;
  socket->set_option(tcp::no_delay(true), ignored);  // each piece its own segment, at once
  net::co_spawn(d.ioc, [socket, pieces = std::move(pieces)]() -> net::awaitable<void> {
    for (const auto piece : pieces) {
      auto [wec, w] = co_await net::async_write(*socket, net::buffer(piece.data(), piece.size()), nothrow);
      if (wec) co_return;  // the listener closed (a refused request)
      co_await fuzz_support::yield_a_little();
    }
    boost::system::error_code ignored;
    socket->shutdown(tcp::socket::shutdown_send, ignored);
  }, net::detached);
  (void)co_await net::async_read(*socket, net::dynamic_buffer(answer), nothrow);  // up to the close
  // Closed with a reset (no TIME_WAIT): the next input's connection gets
  // a port at once, however many inputs a second.
  socket->set_option(net::socket_base::linger(true, 0), ignored);
  socket->close(ignored);
  done = true;
}

// Whether each request of `bytes`, as Beast reads them with the listener's
// limits, is a HEAD (whose response has a Content-Length but no body). The
// request Beast cannot read, which the listener refuses and closes after,
// is a HEAD when its bytes start with "HEAD ": the client that sent them
// reads no body, whatever is wrong further on (daemon/http_server.cpp).
std::vector<bool> heads_of(std::string_view bytes) {
  std::vector<bool> heads;
  auto rest = net::buffer(bytes.data(), bytes.size());
  while (rest.size() > 0) {
    const std::string_view request(static_cast<const char*>(rest.data()), rest.size());
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(64 * 1024);
    boost::system::error_code ec;
    if (!fuzz_support::put_all(parser, rest, ec)) {
      heads.push_back(request.starts_with("HEAD "));
      break;
    }
    heads.push_back(parser.get().method() == http::verb::head);
  }
  return heads;
}

// A broken answer: what was wrong and the bytes, so that the finding's log
// says it without a debugger.
[[noreturn]] void fail(const std::string& what, std::string_view answer) {
  std::fprintf(stderr, "fuzz_http_request: %s; the listener sent:\n%.*s\n", what.c_str(),
               static_cast<int>(std::min<std::size_t>(answer.size(), 4096)), answer.data());
  std::abort();
}

// Every byte the listener sent belongs to a complete response, 200-599.
void check_responses(std::string_view answer, const std::vector<bool>& heads) {
  auto rest = net::buffer(answer.data(), answer.size());
  for (std::size_t i = 0; rest.size() > 0; ++i) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    parser.eager(true);
    parser.skip(i < heads.size() && heads[i]);
    boost::system::error_code ec;
    fuzz_support::put_all(parser, rest, ec);
    if (!ec && !parser.is_done() && rest.size() == 0) parser.put_eof(ec);  // a body up to the close
    if (ec || !parser.is_done()) fail("response " + std::to_string(i) + " does not parse: " + ec.message(), answer);
    const auto status = parser.get().result_int();
    if (status < 200 || status > 599) fail("response " + std::to_string(i) + " has status " + std::to_string(status), answer);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Daemon* d = new Daemon;  // lives for the whole run, as the daemon's does
  if (size < 1) return 0;
  const std::string_view request(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string answer;
  bool done = false;
  net::co_spawn(d->ioc, client(*d, fuzz_support::pieces_of(request, data[0]), answer, done), net::detached);
  // Bounded: a hang is a finding (a 10 s read timeout would end any session).
  for (std::size_t steps = 0; !done && steps < 10'000'000; ++steps) d->ioc.run_one();
  if (!done) std::abort();
  d->ioc.poll();  // what the requests started (checks of the reactive layer)
  check_responses(answer, heads_of(request));
  return 0;
}
