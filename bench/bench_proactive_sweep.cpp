// One proactive poll sweep over 1,000 labelled containers (issue 8,
// "Performance": under 50 ms of loop time).
//
// The real ProactiveLayer, with the daemon's own wiring (a Fleet as the
// evidence sink and target registry, label discovery, an EngineClient),
// sweeps a fleet whose engine is a canned Docker-style /containers/json
// answer served from a unix socket by a server on ANOTHER thread, so the
// event loop's time is the daemon's alone. /events requests are held open
// without an answer (the layer's event stream stays connected and quiet).
// Loop time per sweep = the loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID)
// from poll_now() until the sweep is counted done; wall time printed too.
// The first sweep (discovery of 1,000 new targets) is printed apart; logging
// is off (only that first sweep would log, one line per new target).
// Baseline, same run, same socket and loop: EngineClient::list() alone (one
// HTTP exchange + parse), and the ratio.
// Two engines: "docker" (health in the Status text: one list per sweep) and
// "podman" (no health in Status: list_with_health adds three health-filtered
// lists, as against the real Podman).
//
// Loop stall (issue 15): a 1 ms ticker on the same loop; its lateness while
// sweeping is the longest stretch the loop spends in the sweep at once.
// Measured with the sweep yielding every 256 targets and, as the baseline in
// the same run, never yielding (the behaviour before issue 15), plus the
// ticker alone on the idle loop (the machine's scheduling noise).
//
// Usage: bench_proactive_sweep [containers=1000] [sweeps=50]
#include <time.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <thread>
#include <utility>

#include "bench/latency_support.hpp"
#include "bench/proactive_wiring.hpp"
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "clients/engine/client.hpp"
#include "sweeps/fleet.hpp"
#include "clients/http/checker.hpp"
#include "sweeps/proactive/proactive_layer.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_sources.hpp"

using namespace healthsweep::clients::engine;
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;
using namespace healthsweep::sweeps;
using namespace healthsweep::sweeps::decide;
using namespace healthsweep::sweeps::proactive;

namespace {

using namespace healthsweep;
using hsbench::percentile;
namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using unix_socket = net::local::stream_protocol;

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// A Docker/Podman-style list entry; 2% exited, 3% unhealthy, 1% starting.
json::object container(int i, bool health_in_status) {
  char id[65];
  std::snprintf(id, sizeof id, "%016x%016x%016x%016x", i, i * 7919u, i * 104729u, i * 2654435761u);
  const std::string name = "ws-" + std::to_string(i);
  const bool exited = i % 50 == 7;
  const char* health = i % 33 == 5 ? "unhealthy" : i % 100 == 3 ? "starting" : "healthy";
  std::string status = exited ? "Exited (137) 3 minutes ago" : "Up 2 hours";
  if (!exited && health_in_status) status += std::string(" (") + health + ")";
  return json::object{
      {"Id", id}, {"Names", json::array{"/" + name}},
      {"Image", "registry.example.com/agents/workspace:2024.11"}, {"ImageID", std::string("sha256:") + id},
      {"Command", "/usr/local/bin/entrypoint --serve"}, {"Created", 1732000000 + i},
      {"Ports", json::array{}},
      {"Labels", json::object{{"healthsweep.target", name}, {"com.example.team", "agents"},
                              {"org.opencontainers.image.version", "2024.11"}}},
      {"State", exited ? "exited" : "running"}, {"Status", status},
      {"HostConfig", json::object{{"NetworkMode", "none"}}},
      {"NetworkSettings", json::object{{"Networks", json::object{{"none", json::object{
          {"NetworkID", std::string(id, 40)}, {"IPAddress", ""}, {"Gateway", ""}, {"MacAddress", ""}}}}}}},
      {"Mounts", json::array{json::object{{"Type", "volume"}, {"Name", name + "-home"},
                                          {"Destination", "/home/agent"}, {"RW", true}}}}};
}

// Canned answers: the full list, and per health filter (podman variant).
struct CannedEngine {
  std::string all;
  std::map<std::string, std::string> by_health;

  CannedEngine(int n, bool health_in_status) {
    json::array everything;
    std::map<std::string, json::array> parts;
    for (int i = 0; i < n; ++i) {
      auto c = container(i, health_in_status);
      if (c.at("State").as_string() == "running")
        parts[i % 33 == 5 ? "unhealthy" : i % 100 == 3 ? "starting" : "healthy"].push_back(c);
      everything.push_back(std::move(c));
    }
    all = json::serialize(everything);
    for (const char* h : {"unhealthy", "starting", "healthy"}) by_health[h] = json::serialize(parts[h]);
  }

  const std::string& answer(std::string_view target) const {
    auto u = boost::urls::parse_origin_form(target);
    if (!u) return all;
    auto f = u->params().find("filters");
    if (f == u->params().end()) return all;
    boost::system::error_code ec;
    auto filters = json::parse((*f).value, ec);
    if (ec || !filters.is_object()) return all;
    if (auto* h = filters.as_object().if_contains("health"); h && h->is_array() && !h->as_array().empty())
      if (auto it = by_health.find(std::string(h->as_array()[0].as_string())); it != by_health.end())
        return it->second;
    return all;
  }
};

net::awaitable<void> serve(unix_socket::socket socket, const CannedEngine& engine) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, hsbench::nothrow);
    if (ec) co_return;
    if (req.target().find("/events") != std::string_view::npos) {
      char c;  // hold the stream open, silent, until the client goes away
      co_await socket.async_read_some(net::buffer(&c, 1), hsbench::nothrow);
      co_return;
    }
    const auto& body = engine.answer(req.target());
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    const std::array<net::const_buffer, 2> reply{net::buffer(head), net::buffer(body)};
    std::tie(ec, n) = co_await net::async_write(socket, reply, hsbench::nothrow);
    if (ec) co_return;
  }
}

net::awaitable<void> accept_all(unix_socket::acceptor& acceptor, const CannedEngine& engine) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(hsbench::nothrow);
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket), engine), net::detached);
  }
}

// The engine, on a thread of its own.
class EngineServer {
 public:
  EngineServer(std::string path, const CannedEngine& engine) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    acceptor_.open(unix_socket());
    acceptor_.bind(unix_socket::endpoint(path_));
    acceptor_.listen();
    net::co_spawn(io_, accept_all(acceptor_, engine), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EngineServer() {
    io_.stop();
    thread_.join();
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  net::io_context io_;
  unix_socket::acceptor acceptor_{io_};
  std::thread thread_;
};

// A 1 ms timer on the sweep's loop: how late each tick fires is how long the
// loop was held by something else (the longest single stretch of the sweep
// shows as the max). Ticks are kept only while `recording`.
struct Ticker {
  net::steady_timer timer;
  bool recording = false, running = true;
  std::vector<double> lateness;

  explicit Ticker(net::io_context& io) : timer(io) {}
  net::awaitable<void> run() {
    while (running) {
      const auto due = hsbench::steady::now() + std::chrono::milliseconds(1);
      timer.expires_at(due);
      boost::system::error_code ec;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (recording) lateness.push_back(hsbench::ms_between(due, hsbench::steady::now()));
    }
  }
  void stop() {
    running = false;
    timer.cancel();
  }
};

struct Figures {
  double first_cpu = 0, first_wall = 0;
  std::vector<double> sweep_cpu, sweep_wall, list_cpu, list_wall;
  std::vector<double> stall_sweeping, stall_idle;  // ticker lateness (ms) during the sweeps / idle
  std::size_t targets = 0, online = 0, offline = 0, restarting = 0;
  std::uint64_t requests_per_sweep = 0;
};

Figures measure(const std::string& socket, int sweeps, std::size_t yield_every) {
  net::io_context io;
  metrics::Metrics metrics("bench");
  metrics::LivenessRegistry liveness;
  auto cfg = hsbench::engine_config(socket, "healthsweep.target");  // only the sweeps asked for
  // The canned containers have no processes to watch: the process watch
  // (one inspect per new running container, once) is not part of a sweep.
  cfg.engine.watch_processes = false;
  Fleet fleet(io.get_executor(), cfg, metrics);
  HttpChecker http(io.get_executor());
  EngineClient engine(io.get_executor(), socket, cfg.engine.api_version, cfg.proactive.timeout);
  ProactiveOutputs out = hsbench::fleet_outputs(fleet);
  ProactiveLayer layer(io.get_executor(), cfg, &engine, http, std::move(out), metrics, liveness);
  layer.yield_every(yield_every);
  Ticker ticker(io);
  net::co_spawn(io, ticker.run(), net::detached);

  Figures f;
  auto run_sweep = [&](std::uint64_t done_before) {
    const double c0 = thread_cpu_ms();
    const auto w0 = hsbench::steady::now();
    if (done_before > 0) layer.poll_now();
    while (layer.sweeps_done() == done_before) io.run_one();
    return std::pair{thread_cpu_ms() - c0, hsbench::ms_between(w0, hsbench::steady::now())};
  };
  layer.start();
  std::tie(f.first_cpu, f.first_wall) = run_sweep(0);
  const auto requests_before = engine.requests_sent();
  ticker.recording = true;
  for (int i = 0; i < sweeps; ++i) {
    auto [cpu, wall] = run_sweep(layer.sweeps_done());
    f.sweep_cpu.push_back(cpu);
    f.sweep_wall.push_back(wall);
  }
  f.stall_sweeping = std::exchange(ticker.lateness, {});
  // Counted now: during the idle run below the Fleet's own timers move
  // offline targets on (restart orders after the settle delay).
  f.targets = fleet.size();
  f.online = fleet.machine().counts_by_state()[static_cast<std::size_t>(State::online)];
  f.offline = fleet.machine().counts_by_state()[static_cast<std::size_t>(State::offline)];
  f.restarting = fleet.machine().counts_by_state()[static_cast<std::size_t>(State::restarting)];
  // The same ticker with nothing else on the loop, as long as the sweeps
  // took: the machine's own scheduling noise.
  double swept_ms = 0;
  for (double w : f.sweep_wall) swept_ms += w;
  io.run_for(std::chrono::milliseconds(static_cast<long long>(std::max(swept_ms, 200.0))));
  f.stall_idle = std::exchange(ticker.lateness, {});
  ticker.recording = false;
  ticker.stop();
  f.requests_per_sweep = (engine.requests_sent() - requests_before) / static_cast<std::uint64_t>(sweeps);

  // Baseline: the list call alone, same client, socket and loop.
  bool list_ok = true;
  net::co_spawn(io, [&]() -> net::awaitable<void> {
    for (int i = 0; i < sweeps; ++i) {
      const double c0 = thread_cpu_ms();
      const auto w0 = hsbench::steady::now();
      auto r = co_await engine.list("healthsweep.target");
      f.list_cpu.push_back(thread_cpu_ms() - c0);
      f.list_wall.push_back(hsbench::ms_between(w0, hsbench::steady::now()));
      list_ok = list_ok && r.ok();
    }
  }, net::detached);
  while (f.list_cpu.size() < static_cast<std::size_t>(sweeps)) io.run_one();
  if (!list_ok) throw std::runtime_error("EngineClient::list failed");
  layer.stop();
  fleet.stop();
  engine.close_idle();
  io.run_for(std::chrono::seconds(2));
  return f;
}

void report_stall(const Figures& yielding, std::size_t yield_every, const Figures& holding) {
  auto max_of = [](const std::vector<double>& v) { return percentile(v, 100); };
  std::printf("  loop stall during the sweeps (1 ms ticker lateness): yield every %zu targets max %6.2f ms p99 %6.2f ms"
              " (%zu ticks) | never yielding (BASELINE, before issue 15) max %6.2f ms p99 %6.2f ms (%zu ticks)"
              " | ratio of max %.2f, of p99 %.2f\n",
              yield_every, max_of(yielding.stall_sweeping), percentile(yielding.stall_sweeping, 99),
              yielding.stall_sweeping.size(), max_of(holding.stall_sweeping), percentile(holding.stall_sweeping, 99),
              holding.stall_sweeping.size(), max_of(yielding.stall_sweeping) / max_of(holding.stall_sweeping),
              percentile(yielding.stall_sweeping, 99) / percentile(holding.stall_sweeping, 99));
  std::printf("  idle ticker, same loop, same run (scheduling noise): max %6.2f ms p99 %6.2f ms (%zu ticks)\n",
              max_of(yielding.stall_idle), percentile(yielding.stall_idle, 99), yielding.stall_idle.size());
  std::printf("  goal stall p99 <= 5 ms while sweeping: %s (p99 %.2f ms)\n",
              percentile(yielding.stall_sweeping, 99) <= 5 ? "met" : "NOT met", percentile(yielding.stall_sweeping, 99));
}

void report(const char* engine_kind, int containers, const Figures& f) {
  const double cpu50 = percentile(f.sweep_cpu, 50), cpu99 = percentile(f.sweep_cpu, 99);
  const double list50 = percentile(f.list_cpu, 50);
  std::printf("[%s] %d containers, %zu targets (%zu online, %zu offline, %zu restarting), %llu engine request(s) per sweep\n",
              engine_kind, containers, f.targets, f.online, f.offline, f.restarting,
              static_cast<unsigned long long>(f.requests_per_sweep));
  std::printf("  first sweep (discovers every target): loop CPU %.2f ms, wall %.2f ms\n", f.first_cpu, f.first_wall);
  std::printf("  sweep:    loop CPU p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms | wall p50 %6.2f ms  p99 %6.2f ms\n",
              cpu50, cpu99, percentile(f.sweep_cpu, 100), percentile(f.sweep_wall, 50), percentile(f.sweep_wall, 99));
  std::printf("  list():   loop CPU p50 %6.2f ms  p99 %6.2f ms  (BASELINE) | wall p50 %6.2f ms  p99 %6.2f ms\n",
              list50, percentile(f.list_cpu, 99), percentile(f.list_wall, 50), percentile(f.list_wall, 99));
  std::printf("  ratio sweep / list() (loop CPU, p50): %.2f\n", cpu50 / list50);
  std::printf("  target one sweep < 50 ms of loop time (p99 of loop CPU): %s (%.2f ms)\n",
              cpu99 < 50 ? "met" : "NOT met", cpu99);
}

}  // namespace

int main(int argc, char** argv) {
  const int containers = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int sweeps = argc > 2 ? std::atoi(argv[2]) : 50;
  // Logging off: the first sweep would log 1,000 "target appeared" lines
  // (steady sweeps log nothing: no transitions), which measures the terminal.
  spdlog::set_level(spdlog::level::off);
  std::printf("# bench_proactive_sweep: %d containers, %d sweeps per engine; load %s\n", containers, sweeps,
              hsbench::load_average().c_str());
  for (bool docker : {true, false}) {
    const CannedEngine canned(containers, docker);
    EngineServer server("/tmp/hs-bench-sweep-" + std::to_string(::getpid()) + ".sock", canned);
    if (docker)
      std::printf("# list answer: %.0f KB for %d containers\n", static_cast<double>(canned.all.size()) / 1024,
                  containers);
    constexpr std::size_t yield_every = 256;
    const auto yielding = measure(server.path(), sweeps, yield_every);
    const auto holding = measure(server.path(), sweeps, 0);
    report(docker ? "docker" : "podman", containers, yielding);
    std::printf("  never yielding (BASELINE): loop CPU p50 %6.2f ms  p99 %6.2f ms\n", percentile(holding.sweep_cpu, 50),
                percentile(holding.sweep_cpu, 99));
    report_stall(yielding, yield_every, holding);
  }
  std::printf("# load after: %s\n", hsbench::load_average().c_str());
  return 0;
}
