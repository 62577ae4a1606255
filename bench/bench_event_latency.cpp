// Kill -> offline (issue 8, "Performance": p99 under 100 ms on Podman; the
// engine's own event delay printed apart), in two phases of one run:
//   1. events only (engine.watch_processes: false): the engine's /events
//      stream is the only way the daemon can see a death (THE BASELINE);
//   2. the daemon's default: each container's main process watched through a
//      pidfd, the die event following as a second opinion.
// Run by bench/bench_engine_latency.sh, which starts an engine of its own
// (ENGINE podman: a Podman API service; docker: a private dockerd) and N
// running containers PREFIX0 .. PREFIX(N-1), created with --network none and
// the label healthsweep.target=e-i. The driver speaks only the Docker Engine
// API, so it runs unchanged on either; it prints the engine's Server header.
//
//   bench_event_latency DAEMON ENGINE_SOCKET WORKDIR PREFIX N [SPACING_MS=300]
//
// Each phase: a daemon discovers the N targets by label (poll interval 1h:
// after the sweep at start, only events or the process watch can see a
// death), remediation via none, fail-safe off. It reaches the engine through
// a tap of this driver (on a thread of its own) that forwards every byte both
// ways and notes when each container's die event passes towards the daemon.
// Per container, SPACING_MS apart: POST /containers/{name}/kill?signal=KILL
// to the engine and note when the answer came back; poll
// GET /admin/targets/e-i every 100 us until it is offline. Between the
// phases every container is started again. Printed, per phase:
// - kill sent -> offline seen by the poll (THE FIGURE); the kill's answer is
//   printed too (Podman answers a SIGKILL only once the container is gone);
// - the engine's own delays: kill sent -> the die event's timeNano, and
//   timeNano -> the event leaving the engine's stream (Podman's file events
//   backend polls its log file; see BENCHMARKS.md);
// - events only: the daemon's part, die event handed to the daemon ->
//   offline seen; with the watch: how much earlier than the die event left
//   the engine the target was offline, and how many went offline first
//   through the process watch;
// - the daemon's healthsweep_detection_latency_seconds{layer="proactive"}.
// Ratios: p99 kill -> offline with the watch / events only, and / the engine
// round-trip of one inspect (measured in each phase).
#include "bench/latency_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include <boost/json/parse.hpp>

#include <cmath>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "clients/engine/client.hpp"

using namespace healthsweep::clients::engine;

namespace {

using namespace hsbench;
using healthsweep::clients::engine::EngineClient;
using healthsweep::clients::engine::EngineEvent;
using system_clock = std::chrono::system_clock;

struct Options {
  std::string daemon, engine, work, prefix;
  int n = 50;
  int spacing_ms = 300;
};

std::string config_yaml(unsigned short port, const std::string& engine, bool watch) {
  return "listen: \"127.0.0.1:" + std::to_string(port) + "\"\n" +
         "log: { level: info }\n"
         "targets: { engine_label: healthsweep.target }\n"
         "engine: { socket: " + engine + ", watch_processes: " + (watch ? "true" : "false") + " }\n"
         "sweeps:\n  proactive: { interval: 1h, timeout: 5s }\n"
         "remediation:\n  restart: { enabled: true, via: none }\n  fail_safe: { max_offline_fraction: 1.0 }\n"
         "liveness: { stale_after: 2h }\n";
}

double ms_between(system_clock::time_point a, system_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Between the daemon and the engine: forwards every byte both ways and notes
// when each container's die event is handed to the daemon. Its own thread,
// so the driver's polling never holds up the daemon's stream.
class EventTap {
 public:
  struct Death {
    system_clock::time_point event_time;  // the engine's timeNano
    system_clock::time_point forwarded_wall;
    steady::time_point forwarded;         // written to the daemon's socket
  };
  using unix_socket = net::local::stream_protocol;

  EventTap(std::string listen, std::string engine) : path_(std::move(listen)), engine_(std::move(engine)) {
    ::unlink(path_.c_str());
    acceptor_.open(unix_socket());
    acceptor_.bind(unix_socket::endpoint(path_));
    acceptor_.listen();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EventTap() {
    io_.stop();
    thread_.join();
  }
  const std::string& path() const { return path_; }
  std::optional<Death> death(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = deaths_.find(name);
    return it == deaths_.end() ? std::nullopt : std::optional<Death>(it->second);
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, client] = co_await acceptor_.async_accept(nothrow);
      if (ec) co_return;
      auto c = std::make_shared<unix_socket::socket>(std::move(client));
      auto e = std::make_shared<unix_socket::socket>(io_);
      auto [cec] = co_await e->async_connect(unix_socket::endpoint(engine_), nothrow);
      if (cec) continue;
      net::co_spawn(io_, pump(c, e, false), net::detached);
      net::co_spawn(io_, pump(e, c, true), net::detached);
    }
  }

  net::awaitable<void> pump(std::shared_ptr<unix_socket::socket> from, std::shared_ptr<unix_socket::socket> to,
                            bool from_engine) {
    char buf[16384];
    std::string pending;  // an unfinished line of the engine's answer
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(net::buffer(buf), nothrow);
      if (ec) break;
      const auto wall = system_clock::now();
      const auto now = steady::now();
      auto [wec, wn] = co_await net::async_write(*to, net::buffer(buf, n), nothrow);
      if (wec) break;
      if (from_engine) note_deaths(pending, std::string_view(buf, n), wall, now);
    }
    boost::system::error_code ignored;
    to->shutdown(unix_socket::socket::shutdown_send, ignored);
  }

  // Event lines of the stream (between chunk-size lines of the chunked body).
  void note_deaths(std::string& pending, std::string_view data, system_clock::time_point wall, steady::time_point now) {
    pending.append(data);
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      const std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (line.empty() || line.front() != '{' || line.find("\"die\"") == std::string_view::npos) continue;
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      const auto* action = o.if_contains("Action");
      const auto* nano = o.if_contains("timeNano");
      const auto* actor = o.if_contains("Actor");
      if (!action || *action != "die" || !nano || !nano->is_int64() || !actor || !actor->is_object()) continue;
      const auto* attrs = actor->as_object().if_contains("Attributes");
      const auto* name = attrs && attrs->is_object() ? attrs->as_object().if_contains("name") : nullptr;
      if (!name || !name->is_string()) continue;
      const system_clock::time_point t{std::chrono::duration_cast<system_clock::duration>(
          std::chrono::nanoseconds(nano->as_int64()))};
      std::lock_guard lock(mu_);
      deaths_.try_emplace(std::string(name->as_string()), Death{t, wall, now});
    }
    pending.erase(0, start);
  }

  std::string path_, engine_;
  net::io_context io_;
  unix_socket::acceptor acceptor_{io_};
  mutable std::mutex mu_;
  std::unordered_map<std::string, Death> deaths_;
  std::thread thread_;
};

struct Phase {
  std::vector<double> rt, kill_answer, sent_to_offline, event_delay, delivery, daemon_part, ahead_of_event;
  int via_process_exit = 0;  // offline first through the process watch
  HistogramSeries histogram;
};

// The value of a series without labels in the text exposition format; NaN if absent.
double metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
  return NAN;
}

net::awaitable<bool> wait_metric(TcpClient& hs, const std::string& series, double value,
                                 std::chrono::milliseconds limit) {
  const auto until = steady::now() + limit;
  while (steady::now() < until) {
    auto m = co_await hs.request(http::verb::get, "/metrics");
    if (metric_value(m.body, series) == value) co_return true;
    co_await sleep_for(100ms);
  }
  co_return false;
}

// `o` lives in main until io.run() returns. The pragma: g++ 12 sees the
// coroutine frame's operator new (Asio's recycling allocator) and the free()
// on the ramp's cleanup path as a mismatch (a false positive of g++ 12).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// One daemon, every container killed once. watch: engine.watch_processes.
net::awaitable<int> run_phase(const Options& o, bool watch, Phase& r) {
  auto ex = co_await net::this_coro::executor;
  const std::string tag = watch ? "process" : "events";
  EventTap tap(o.work + "/tap-" + tag + ".sock", o.engine);
  const auto port = free_port();
  write_file(o.work + "/" + tag + ".yaml", config_yaml(port, tap.path(), watch));
  DaemonProcess daemon(o.daemon, o.work + "/" + tag + ".yaml", o.work + "/" + tag + "-daemon.log");
  TcpClient hs(ex, {net::ip::make_address("127.0.0.1"), port});
  UnixClient raw_engine(ex, net::local::stream_protocol::endpoint(o.engine));
  EngineClient engine(ex, o.engine, "v1.41", 10s);

  if (!co_await wait_states(hs, "e-", static_cast<std::size_t>(o.n), "online", 60s)) {
    std::fprintf(stderr, "bench_event_latency: targets not all online within 60 s (log: %s/%s-daemon.log)\n",
                 o.work.c_str(), tag.c_str());
    co_return 1;
  }
  if (watch && !co_await wait_metric(hs, "healthsweep_proactive_watched_processes", o.n, 60s)) {
    std::fprintf(stderr, "bench_event_latency: not every container's process watched within 60 s\n");
    co_return 1;
  }
  std::printf("# phase %s: %d labelled targets online; load %s\n", tag.c_str(), o.n, load_average().c_str());

  std::vector<system_clock::time_point> kill_sent(static_cast<std::size_t>(o.n));
  std::vector<steady::time_point> offline_seen(static_cast<std::size_t>(o.n));
  int failures = 0;
  for (int i = 0; i < o.n && failures == 0; ++i) {
    const std::string name = o.prefix + std::to_string(i), id = "e-" + std::to_string(i);
    for (int s = 0; s < 5; ++s) {  // baseline: one engine round-trip
      const auto a = steady::now();
      auto q = co_await engine.inspect(name);
      if (q.ok()) r.rt.push_back(hsbench::ms_between(a, steady::now()));
    }
    // The kill runs beside the polling: Podman answers a SIGKILL only after
    // the container is gone, often after its die event has passed.
    struct Kill { bool done = false; Answer answer; steady::time_point at; };
    auto kill = std::make_shared<Kill>();
    const auto t_sent = steady::now();
    kill_sent[static_cast<std::size_t>(i)] = system_clock::now();
    net::co_spawn(ex, [&raw_engine, kill, name]() -> net::awaitable<void> {
      kill->answer = co_await raw_engine.request(http::verb::post, "/v1.41/containers/" + name + "/kill?signal=KILL");
      kill->at = steady::now();
      kill->done = true;
    }, net::detached);
    const std::string object = co_await poll_until_offline(hs, id, t_sent, 10s);
    const auto t_off = steady::now();
    while (!kill->done && hsbench::ms_between(t_sent, steady::now()) < 20000) co_await sleep_for(1ms);
    if (!kill->done || kill->answer.status != 204) {
      std::fprintf(stderr, "kill %s: %u %s\n", name.c_str(), kill->answer.status, kill->answer.body.c_str());
      ++failures;
      break;
    }
    const auto evidence = field_of(object, "evidence", "proactive");
    const bool by_exit = field_of(object, "reason").rfind("container process exited", 0) == 0;
    if (field_of(object, "state") != "offline" ||
        (evidence.rfind("dead: container died", 0) != 0 && evidence.rfind("dead: container process exited", 0) != 0) ||
        (!watch && by_exit)) {
      std::fprintf(stderr, "%s: not offline through the %s within 10 s: %s\n", id.c_str(),
                   watch ? "process watch or the event stream" : "event stream", object.c_str());
      ++failures;
      break;
    }
    r.via_process_exit += by_exit ? 1 : 0;
    offline_seen[static_cast<std::size_t>(i)] = t_off;
    r.kill_answer.push_back(hsbench::ms_between(t_sent, kill->at));
    r.sent_to_offline.push_back(hsbench::ms_between(t_sent, t_off));
    const auto next = t_sent + std::chrono::milliseconds(o.spacing_ms);
    if (steady::now() < next)
      co_await sleep_for(std::chrono::duration_cast<std::chrono::microseconds>(next - steady::now()));
  }
  // The die events of the last kills may still be on their way (up to 250 ms).
  co_await sleep_for(500ms);
  for (int i = 0; i < o.n && !failures; ++i) {
    const auto d = tap.death(o.prefix + std::to_string(i));
    if (!d) continue;
    const auto k = static_cast<std::size_t>(i);
    r.event_delay.push_back(ms_between(kill_sent[k], d->event_time));
    r.delivery.push_back(ms_between(d->event_time, d->forwarded_wall));
    if (watch) r.ahead_of_event.push_back(hsbench::ms_between(offline_seen[k], d->forwarded));
    else r.daemon_part.push_back(hsbench::ms_between(d->forwarded, offline_seen[k]));
  }
  auto m = co_await hs.request(http::verb::get, "/metrics");
  r.histogram = histogram_of(m.body, "healthsweep_detection_latency_seconds", "layer=\"proactive\"");
  const int daemon_rc = daemon.stop();
  engine.close_idle();
  if (failures) co_return 1;
  std::printf("# phase %s: load after %s; daemon exit status %d; die events seen passing to the daemon: %zu of %d\n",
              tag.c_str(), load_average().c_str(), daemon_rc, r.event_delay.size(), o.n);
  co_return r.histogram.count == o.n && r.event_delay.size() == static_cast<std::size_t>(o.n) ? 0 : 1;
}

net::awaitable<int> start_all(const Options& o) {
  auto ex = co_await net::this_coro::executor;
  EngineClient engine(ex, o.engine, "v1.41", 30s);
  for (int i = 0; i < o.n; ++i) {
    auto r = co_await engine.start(o.prefix + std::to_string(i));
    if (!r.ok()) {
      std::fprintf(stderr, "start %s%d: %s\n", o.prefix.c_str(), i, r.error.c_str());
      co_return 1;
    }
  }
  engine.close_idle();
  co_return 0;
}

void print_phase(const Phase& p) {
  print_stats("engine round-trip, inspect (BASELINE)", p.rt);
  print_stats("kill request -> engine's answer", p.kill_answer);
  print_stats("engine: kill sent -> die timeNano", p.event_delay);
  print_stats("engine: die timeNano -> event leaves the engine", p.delivery);
  print_stats("kill sent -> GET shows offline", p.sent_to_offline);
}

net::awaitable<int> run(const Options& o) {
  // Phase 1, the engine's events alone (the baseline of the same run);
  // phase 2, with the process watch (the daemon's default).
  Phase events, process;
  {
    EngineClient engine(co_await net::this_coro::executor, o.engine, "v1.41", 10s);
    auto ping = co_await engine.ping();
    if (!ping.ok()) {
      std::fprintf(stderr, "bench_event_latency: engine ping: %s\n", ping.error.c_str());
      co_return 1;
    }
    std::printf("# engine: %s, API %s\n", ping.value.server.c_str(), ping.value.api_version.c_str());
    engine.close_idle();
  }
  if (co_await run_phase(o, false, events) != 0) co_return 1;
  if (co_await start_all(o) != 0) co_return 1;
  if (co_await run_phase(o, true, process) != 0) co_return 1;

  std::printf("## events only (engine.watch_processes: false)\n");
  print_phase(events);
  print_stats("daemon: die event in -> GET shows offline", events.daemon_part);
  print_histogram("daemon: event time -> verdict (histogram)", events.histogram);
  std::printf("## with the process watch (default)\n");
  print_phase(process);
  print_stats("offline seen -> die event leaves the engine (how much earlier)", process.ahead_of_event);
  print_histogram("daemon: process exit seen -> verdict (histogram)", process.histogram);
  std::printf("offline first through the process watch: %d of %d\n", process.via_process_exit, o.n);

  const double ev99 = percentile(events.sent_to_offline, 99), pr99 = percentile(process.sent_to_offline, 99);
  const double part99 = percentile(events.daemon_part, 99);
  std::printf("ratio p99 kill->offline, process watch / events only: %.3f (%.2f / %.2f ms)\n", pr99 / ev99, pr99, ev99);
  std::printf("ratio p99 kill->offline (process watch) / p99 engine round-trip: %.2f\n",
              pr99 / percentile(process.rt, 99));
  std::printf("target p99 kill->offline < 100 ms: %s with the process watch (p99 %.2f ms); events only: %s "
              "(p99 %.2f ms; the daemon's part, event in -> offline, p99 %.2f ms)\n",
              pr99 < 100 ? "met" : "NOT met", pr99, ev99 < 100 ? "met" : "NOT met", ev99, part99);
  co_return 0;
}
#pragma GCC diagnostic pop

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s DAEMON ENGINE_SOCKET WORKDIR PREFIX N [SPACING_MS]\n", argv[0]);
    return 2;
  }
  const Options o{argv[1], argv[2], argv[3], argv[4], std::atoi(argv[5]), argc > 6 ? std::atoi(argv[6]) : 300};
  return hsbench::run_driver("bench_event_latency", [&o] { return run(o); });
}
