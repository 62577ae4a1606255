#include "tests/support/daemon.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <csignal>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>
#include <stdexcept>

namespace healthsweep::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// Asynchronous under the hood: beast::tcp_stream's expiry applies only to
// asynchronous operations, and a synchronous read from a stalled daemon
// would wait forever instead of `timeout`.
HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers,
                          std::chrono::milliseconds timeout) {
  return http_request("127.0.0.1", port, method, target, body, headers, timeout);
}

HttpResponse http_request(const std::string& host, int port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers,
                          std::chrono::milliseconds timeout) {
  HttpResponse out;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    req.prepare_payload();
  }
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  stream.expires_after(timeout);  // one deadline for the whole exchange
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    co_await stream.async_connect(net::ip::tcp::endpoint(net::ip::make_address(host),
                                                         static_cast<unsigned short>(port)),
                                  net::use_awaitable);
    co_await http::async_write(stream, req, net::use_awaitable);
    co_await http::async_read(stream, buf, parser, net::use_awaitable);
    auto res = parser.release();
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      out.headers[name] = std::string(f.value());
    }
    beast::error_code ec;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  }, [&](std::exception_ptr e) {
    if (e) out = HttpResponse{};  // no answer: refused, reset or timed out
  });
  ioc.run();
  return out;
}

Daemon::Daemon(const std::string& config_yaml) : Daemon(config_yaml, Options{}) {}

Daemon::Daemon(const std::string& config_yaml, Options options)
    : dir_(std::make_unique<TempDir>()), http_host_(options.http_host) {
  write_config(config_yaml);

  const std::string notify_path = dir_->file("notify.sock");
  notify_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  if (bind(notify_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot bind notify socket");

  auto env = options.extra_env;
  env.push_back("NOTIFY_SOCKET=" + notify_path);
  if (!options.watchdog_usec.empty()) env.push_back("WATCHDOG_USEC=" + options.watchdog_usec);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> argv = options.command_prefix;
  for (std::string a : {std::string(HEALTHSWEEPD_PATH), std::string("--config"), config_path()})
    argv.push_back(a);
  process_ = std::make_unique<Subprocess>(argv, dir_->file("daemon.log"), env);

  if (options.wait_ready) {
    if (!wait_notification("READY=1", std::chrono::seconds(20)))
      throw std::runtime_error("healthsweepd did not become ready; log:\n" + log());
    time_to_ready_ = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
  }
  static const std::regex listening(R"(listening on [^ ]*:(\d+)\n)");
  eventually([&] {
    std::smatch m;
    const auto text = log();
    if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
    return port_ != 0 || !process_->running();
  }, std::chrono::seconds(10));
}

namespace {
// The first sanitizer report in a daemon's log (ASan, LSan, UBSan), or "".
// Under scripts/test --sanitize a report ends the daemon (halt_on_error), but
// one made while it shuts down (a leak at exit) would otherwise go unseen.
std::string sanitizer_report(const std::string& log) {
  std::size_t at = std::string::npos;
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "})
    at = std::min(at, log.find(marker));
  if (at == std::string::npos) return "";
  const auto line = log.rfind('\n', at);
  return log.substr(line == std::string::npos ? 0 : line + 1, 12000);
}
}  // namespace

Daemon::~Daemon() {
  if (process_ && process_->running()) {
    process_->signal(SIGTERM);
    process_->wait_exit(std::chrono::seconds(15));
  }
  if (process_) {
    if (const auto report = sanitizer_report(process_->log()); !report.empty())
      ADD_FAILURE() << "healthsweepd reported under a sanitizer:\n" << report;
  }
  process_.reset();
  if (notify_fd_ >= 0) close(notify_fd_);
}

void Daemon::write_config(const std::string& config_yaml) {
  std::string text = config_yaml;
  if (!std::regex_search(text, std::regex(R"((^|\n)listen:)")))
    text = "listen: \"127.0.0.1:0\"\n" + text;
  dir_->write("healthsweep.yaml", text);
}

HttpResponse Daemon::get(const std::string& target) const {
  return http_request(http_host_, port_, "GET", target);
}

HttpResponse Daemon::post(const std::string& target, const std::string& body,
                          const std::string& bearer) const {
  Headers h{{"Content-Type", "application/json"}};
  if (!bearer.empty()) h.emplace_back("Authorization", "Bearer " + bearer);
  return http_request(http_host_, port_, "POST", target, body, h);
}

void Daemon::drain_notify_socket() {
  char buf[4096];
  while (true) {
    const ssize_t n = recv(notify_fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    std::string msg(buf, static_cast<size_t>(n));
    // one datagram may carry several newline-separated assignments
    size_t pos = 0;
    while (pos <= msg.size()) {
      const auto nl = msg.find('\n', pos);
      auto line = msg.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!line.empty()) notes_.push_back(line);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
}

std::vector<std::string> Daemon::notifications() {
  drain_notify_socket();
  return notes_;
}

bool Daemon::wait_notification(const std::string& message, std::chrono::milliseconds timeout) {
  return eventually([&] {
    drain_notify_socket();
    return std::find(notes_.begin(), notes_.end(), message) != notes_.end() ||
           !process_->running();
  }, timeout) && std::find(notes_.begin(), notes_.end(), message) != notes_.end();
}

}  // namespace healthsweep::testing
