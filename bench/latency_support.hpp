// Shared by the latency drivers (bench_reactive_latency.cpp,
// bench_event_latency.cpp; bench_reactive_storm.cpp takes only the
// percentiles): a keep-alive HTTP client for the daemon and the
// engine, a healthsweepd child process, percentiles, and the daemon's
// detection-latency histogram read back from /metrics. A driver, not the
// daemon: blocking process calls are fine here.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace hsbench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
inline constexpr auto nothrow = net::as_tuple(net::use_awaitable);

inline double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Nearest-rank percentile of unsorted samples.
inline double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return NAN;
  std::sort(xs.begin(), xs.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(xs.size())));
  return xs[std::clamp<std::size_t>(rank, 1, xs.size()) - 1];
}

inline void print_stats(const char* what, const std::vector<double>& ms) {
  std::printf("%-46s n=%-4zu p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  min %8.2f ms\n", what, ms.size(),
              percentile(ms, 50), percentile(ms, 99), percentile(ms, 100), percentile(ms, 0));
}

struct Answer {
  unsigned status = 0;  // 0: transport error, body says which
  std::string body;
};

// One keep-alive HTTP/1.1 connection (TCP or unix socket), reopened when the
// server closed it; every exchange bounded by `timeout`.
template <class Protocol>
class HttpClient {
 public:
  using Stream = beast::basic_stream<Protocol, net::any_io_executor, beast::unlimited_rate_policy>;

  HttpClient(net::any_io_executor ex, typename Protocol::endpoint ep) : ex_(std::move(ex)), ep_(std::move(ep)) {}

  net::awaitable<Answer> request(http::verb verb, std::string target, std::string body = {},
                                 std::string bearer = {}, std::chrono::milliseconds timeout = 10s) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost");
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    boost::system::error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream_) {
        stream_.emplace(ex_);
        stream_->expires_after(timeout);
        std::tie(ec) = co_await stream_->async_connect(ep_, nothrow);
        if (ec) { stream_.reset(); break; }
      }
      stream_->expires_after(timeout);
      std::tie(ec, std::ignore) = co_await http::async_write(*stream_, req, nothrow);
      http::response<http::string_body> res;
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*stream_, buffer_, res, nothrow);
      if (ec) {  // a reused connection the server closed: once more on a new one
        stream_.reset();
        buffer_.clear();
        continue;
      }
      if (!res.keep_alive()) stream_.reset(), buffer_.clear();
      co_return Answer{res.result_int(), std::move(res.body())};
    }
    co_return Answer{0, ec.message()};
  }

 private:
  net::any_io_executor ex_;
  typename Protocol::endpoint ep_;
  std::optional<Stream> stream_;
  beast::flat_buffer buffer_;
};
using TcpClient = HttpClient<net::ip::tcp>;
using UnixClient = HttpClient<net::local::stream_protocol>;

inline net::awaitable<void> sleep_for(std::chrono::microseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(nothrow);
}

// A free loopback port (bound and released).
inline unsigned short free_port() {
  net::io_context io;
  net::ip::tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// healthsweepd as a child: stdout/stderr to `log`, its pid in `log`.pid (so
// a wrapper script that stops us can stop it too), SIGTERM (then SIGKILL)
// when this object goes away.
class DaemonProcess {
 public:
  DaemonProcess(const std::string& binary, const std::string& config, const std::string& log)
      : pid_file_(log + ".pid") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> args{binary, "--config", config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + binary);
    std::ofstream(pid_file_) << pid_ << "\n";
  }
  ~DaemonProcess() { stop(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Exit status after SIGTERM (-1: had to be killed, -2: died of a signal).
  int stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0, rc = -1;
    for (int i = 0; i < 200 && rc == -1; ++i) {  // 10 s
      if (::waitpid(pid_, &status, WNOHANG) == pid_) rc = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
      else std::this_thread::sleep_for(50ms);
    }
    if (rc == -1) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = 0;
    std::remove(pid_file_.c_str());
    return rc;
  }

 private:
  std::string pid_file_;
  pid_t pid_ = 0;
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

// "state" of every target object whose id starts with `prefix`.
inline std::map<std::string, std::string> states_of(const std::string& targets_json, const std::string& prefix) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(targets_json, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& t : v.as_array()) {
    const auto& o = t.as_object();
    const std::string id(o.at("id").as_string());
    if (id.rfind(prefix, 0) == 0) out[id] = std::string(o.at("state").as_string());
  }
  return out;
}

// A string field of a target object ("state"; "evidence", "reactive"); "" if absent.
inline std::string field_of(const std::string& target_json, const char* key, const char* subkey = nullptr) {
  boost::system::error_code ec;
  auto v = boost::json::parse(target_json, ec);
  if (ec || !v.is_object()) return {};
  const auto* f = v.as_object().if_contains(key);
  if (f && subkey) f = f->is_object() ? f->as_object().if_contains(subkey) : nullptr;
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

// Waits until `count` targets with `prefix` are in `state`; false on timeout.
inline net::awaitable<bool> wait_states(TcpClient& daemon, const std::string& prefix, std::size_t count,
                                        const std::string& state, std::chrono::seconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    auto a = co_await daemon.request(http::verb::get, "/admin/targets");
    std::size_t n = 0;
    for (const auto& [id, s] : states_of(a.body, prefix)) n += s == state;
    if (n == count) co_return true;
    co_await sleep_for(100ms);
  }
  co_return false;
}

// Polls GET /admin/targets/{id} every 100 us until the target is offline or
// `limit` has passed since `since`; the last target object seen.
inline net::awaitable<std::string> poll_until_offline(TcpClient& daemon, const std::string& id,
                                                      steady::time_point since, std::chrono::milliseconds limit) {
  std::string object;
  while (steady::now() - since < limit) {
    object = (co_await daemon.request(http::verb::get, "/admin/targets/" + id)).body;
    if (field_of(object, "state") == "offline") break;
    co_await sleep_for(100us);
  }
  co_return object;
}

// A driver's main: `body` runs on a fresh io_context and its co_return value
// is the exit status (an exception: printed, status 1). The daemons it starts
// must not talk to a systemd of ours.
inline int run_driver(const char* name, std::function<net::awaitable<int>()> body) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  net::io_context io;
  int rc = 1;
  net::co_spawn(io, body(), [&](std::exception_ptr e, int r) {
    rc = r;
    if (!e) return;
    try { std::rethrow_exception(e); }
    catch (const std::exception& ex) { std::fprintf(stderr, "%s: %s\n", name, ex.what()); rc = 1; }
  });
  io.run();
  return rc;
}

// One series of a Prometheus histogram from the text exposition format.
struct HistogramSeries {
  double sum = 0, count = 0;
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count), +Inf last

  // Upper bound of the bucket holding the p-th percentile (what PromQL's
  // histogram_quantile can say at best without interpolation).
  double bucket_bound(double p) const {
    const double want = std::ceil(p / 100.0 * count);
    for (const auto& [le, c] : buckets)
      if (c >= want) return le;
    return INFINITY;
  }
};

inline HistogramSeries histogram_of(const std::string& metrics_text, const std::string& name,
                                    const std::string& label) {
  HistogramSeries h;
  std::istringstream in(metrics_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.find(label) == std::string::npos) continue;
    const auto space = line.rfind(' ');
    const double value = std::strtod(line.c_str() + space + 1, nullptr);
    if (line.rfind(name + "_sum{", 0) == 0) h.sum = value;
    else if (line.rfind(name + "_count{", 0) == 0) h.count = value;
    else if (line.rfind(name + "_bucket{", 0) == 0) {
      const auto le = line.find("le=\"");
      const std::string bound = line.substr(le + 4, line.find('"', le + 4) - le - 4);
      h.buckets.emplace_back(bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr), value);
    }
  }
  return h;
}

inline void print_histogram(const char* what, const HistogramSeries& h) {
  std::printf("%-46s n=%-4.0f mean %7.2f ms  p50 <= %g ms  p99 <= %g ms (bucket bounds)\n", what, h.count,
              h.count > 0 ? h.sum / h.count * 1e3 : NAN, h.bucket_bound(50) * 1e3, h.bucket_bound(99) * 1e3);
}

inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace hsbench
