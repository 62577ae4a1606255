// The listener under abuse (issue 13 section 5), against a real healthsweepd:
// one client holding connections, a flood of idle connections, failed
// bearer auth, the listener's own answers on the hook path, request
// smuggling shapes. Each bounded in count and time. Rows in tests/RELIABILITY.md.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <regex>
#include <thread>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/metrics_text.hpp"
#include "tests/support/read_until_closed.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

const char* kConfig = "log:\n  level: info\nshutdown_grace: 2s\n";

// A raw connection from a chosen loopback address (all of 127/8 is
// loopback on Linux), so that tests can be several clients at once.
struct Conn {
  net::ip::tcp::socket s;
  Conn(net::io_context& ioc, int port, const std::string& from) : s(ioc) {
    s.open(net::ip::tcp::v4());
    // The port is chosen at connect time, per destination: 10,000 sockets
    // bound before connect do not exhaust the ephemeral range.
    const int one = 1;
    ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    s.bind({net::ip::make_address(from), 0});
    s.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  void send(std::string_view bytes) { net::write(s, net::buffer(bytes)); }
  std::string read_all(std::chrono::milliseconds limit = 10s) {
    return healthsweep::testing::read_until_closed(s, limit);
  }
  // Closed by the daemon (EOF or reset) now, without waiting.
  bool closed_by_peer() {
    s.non_blocking(true);
    char b;
    boost::system::error_code ec;
    s.read_some(net::buffer(&b, 1), ec);
    return ec && ec != net::error::would_block;
  }
};

// One request on a fresh connection from `from`; the raw reply.
std::string request_from(int port, const std::string& from, const std::string& raw) {
  try {
    net::io_context ioc;
    Conn c(ioc, port, from);
    c.send(raw);
    return c.read_all();
  } catch (const std::exception& e) {
    return std::string("connect failed: ") + e.what();
  }
}

std::string get_from(int port, const std::string& from, const std::string& target) {
  return request_from(port, from, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

bool is_status(const std::string& reply, int status) {
  return reply.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0;
}

// One sample of /metrics ("name{labels}" exactly); nullopt when the series
// does not exist, so an absence is never read as a zero.
std::optional<double> sample(const Daemon& d, const std::string& series) {
  const auto body = d.get("/metrics").body;
  const auto pos = body.find("\n" + series + " ");
  if (pos == std::string::npos) return std::nullopt;
  return std::stod(body.substr(pos + series.size() + 2));
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

void need_descriptors(rlim_t n) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < n && lim.rlim_max >= n) {
    lim.rlim_cur = n;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  ASSERT_GE(lim.rlim_cur, n) << "this test holds " << n << " sockets; RLIMIT_NOFILE is " << lim.rlim_cur;
}

}  // namespace

TEST(ListenerAbuse, OneClientHolding1000ConnectionsDoesNotLockOutPrometheus) {
  // 300 descriptors: the daemon's total cap is 300 - 128 = 172, so without
  // a per-client cap the 1,000 connections would take every slot.
  Daemon::Options o;
  o.command_prefix = {"/usr/bin/prlimit", "--nofile=300:300"};
  Daemon d(kConfig, o);
  need_descriptors(1200);
  net::io_context ioc;
  std::vector<std::unique_ptr<Conn>> greedy;
  for (int i = 0; i < 1000; ++i) greedy.push_back(std::make_unique<Conn>(ioc, d.port(), "127.0.0.1"));
  // The daemon keeps 64 of them (listen_max_connections_per_client) and
  // closes the rest as it accepts them.
  std::size_t open = 0;
  ASSERT_TRUE(eventually([&] {
    open = 0;
    for (auto& c : greedy) open += c->closed_by_peer() ? 0 : 1;
    return open <= 64;
  }, 20s)) << open << " connections of one client still open";
  EXPECT_EQ(open, 64u);
  // Prometheus, from another address, scrapes while they are held.
  for (int i = 0; i < 3; ++i) {
    const auto reply = get_from(d.port(), "127.0.0.2", "/metrics");
    ASSERT_TRUE(is_status(reply, 200)) << reply.substr(0, 200);
    EXPECT_NE(reply.find("healthsweep_build_info"), std::string::npos);
  }
  // Read from 127.0.0.2 too: 127.0.0.1 is the greedy client, at its cap.
  const auto scrape = get_from(d.port(), "127.0.0.2", "/metrics");
  EXPECT_EQ(series_value(scrape, "healthsweep_http_connections_refused_total{reason=\"per_client_cap\"}"), 936)
      << scrape;
  // One log line a second at most for all those refusals.
  EXPECT_LE(count_of(d.log(), "(listen_max_connections_per_client), refusing more"), 25u) << d.log();
  EXPECT_GE(count_of(d.log(), "(listen_max_connections_per_client), refusing more"), 1u);
  greedy.clear();
  EXPECT_TRUE(eventually([&] { return is_status(get_from(d.port(), "127.0.0.1", "/healthz"), 200); }, 5s));
}

TEST(ListenerAbuse, TenThousandIdleConnectionsAndAFreshClientStillGetsHealthz) {
  // 10,000 idle connections from 200 loopback addresses (50 each, under
  // the per-client cap). The daemon (here RLIMIT_NOFILE 20000, total cap
  // 1024) closes the longest-idle ones to make room, so a fresh client is
  // always served.
  Daemon d(kConfig);
  need_descriptors(10500);
  net::io_context ioc;
  std::vector<std::unique_ptr<Conn>> idle;
  idle.reserve(10000);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) {
    const std::string from = "127.0.1." + std::to_string(1 + i % 200);
    idle.push_back(std::make_unique<Conn>(ioc, d.port(), from));
    if (i % 2000 == 1999) {  // and meanwhile
      const auto reply = get_from(d.port(), "127.0.0.3", "/healthz");
      EXPECT_TRUE(is_status(reply, 200)) << "after " << i + 1 << " idle connections: " << reply;
    }
  }
  const auto opened_in = std::chrono::steady_clock::now() - start;
  for (int i = 0; i < 5; ++i) {
    const auto reply = get_from(d.port(), "127.0.0.3", "/healthz");
    EXPECT_TRUE(is_status(reply, 200)) << reply;
    EXPECT_NE(reply.find("\r\n\r\nok"), std::string::npos) << reply;
  }
  EXPECT_TRUE(d.process().running());
  const auto evicted = sample(d, "healthsweep_http_connections_refused_total{reason=\"evicted\"}");
  ASSERT_TRUE(evicted);
  EXPECT_GT(*evicted, 0) << "opened in "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(opened_in).count() << " ms";
  idle.clear();
  EXPECT_TRUE(eventually([&] { return is_status(get_from(d.port(), "127.0.0.1", "/healthz"), 200); }, 5s));
}

TEST(ListenerAbuse, FailedBearerAuthIsCountedAndLoggedOnceASecondAtMost) {
  TempDir tokens;
  const auto token_path = tokens.write("token", "s3cret-token");
  ASSERT_EQ(chmod(token_path.c_str(), 0600), 0);
  Daemon d(std::string(kConfig) + "auth:\n  token_file: " + token_path + "\n");
  EXPECT_EQ(d.log().find("is readable by"), std::string::npos) << d.log();
  const auto at_start = sample(d, "healthsweep_auth_failures_total");
  ASSERT_TRUE(at_start) << "the series exists from the start";
  EXPECT_EQ(*at_start, 0);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i)
    EXPECT_EQ(d.post("/hooks/connection-error", R"({"target":"ws-1"})", i % 2 ? "wrong" : "s3cret-toke").status,
              401);
  EXPECT_EQ(d.post("/admin/targets/ws-1/sweep", "", "").status, 401);
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(sample(d, "healthsweep_auth_failures_total"), 201);
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"401\"}"), 200);
  // The right token still passes auth (then 404: no such target).
  EXPECT_EQ(d.post("/hooks/connection-error", R"({"target":"ws-1"})", "s3cret-token").status, 404);
  EXPECT_EQ(sample(d, "healthsweep_auth_failures_total"), 201);
  const auto lines = count_of(d.log(), "missing or wrong bearer token for");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, static_cast<std::size_t>(seconds) + 2) << d.log();
}

TEST(ListenerAbuse, TokenFileReadableByOthersIsAWarningAtStart) {
  TempDir tokens;
  const auto token_path = tokens.write("token", "s3cret-token");
  ASSERT_EQ(chmod(token_path.c_str(), 0644), 0);
  Daemon d(std::string(kConfig) + "auth:\n  token_file: " + token_path + "\n");
  EXPECT_TRUE(eventually([&] { return d.log().find("is readable by others (mode 0644)") != std::string::npos; }, 5s))
      << d.log();
  EXPECT_EQ(d.post("/hooks/connection-error", R"({"target":"ws-1"})", "s3cret-token").status, 404);
}

TEST(ListenerAbuse, TheListenersOwnAnswersOnTheHookPathAreCounted) {
  Daemon d(kConfig);
  const std::string hook = "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\n";
  // 413: body over 64 KiB (announced), 431: header over 8 KiB, 400: bad framing (x3)
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1", hook + "Content-Length: 70000\r\n\r\n{"), 413));
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1", hook + "X-Big: " + std::string(9000, 'a') + "\r\n\r\n"),
                        431));
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1", hook + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
                        400));
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1", hook + "Content-Length: zz\r\n\r\n{}"), 400));
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1", hook + "X-A: b\r\n c\r\nContent-Length: 2\r\n\r\n{}"), 400));
  // And the routes' own (403: no token configured; 405).
  EXPECT_EQ(d.post("/hooks/connection-error", R"({"target":"ws-1"})", "x").status, 403);
  EXPECT_EQ(d.get("/hooks/connection-error").status, 405);
  // Not on the hook path: not counted.
  EXPECT_TRUE(is_status(request_from(d.port(), "127.0.0.1",
                                     "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n"),
                        431));
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"413\"}"), 1);
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"431\"}"), 1);
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"400\"}"), 3);
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"403\"}"), 1);
  EXPECT_EQ(sample(d, "healthsweep_hook_requests_total{code=\"405\"}"), 1);
}

TEST(ListenerAbuse, RequestSmugglingShapesAre400AndTheDaemonKeepsServing) {
  Daemon d(kConfig);
  const std::vector<std::string> shapes = {
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /admin/targets HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
      "0\r\n\r\nGET /admin/targets HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity,\r\n chunked\r\n\r\n0\r\n\r\n",
  };
  for (const auto& shape : shapes) {
    const auto reply = request_from(d.port(), "127.0.0.1", shape);
    EXPECT_TRUE(is_status(reply, 400)) << shape << "\n-> " << reply;
    // Exactly one answer: nothing smuggled behind it was answered.
    EXPECT_EQ(count_of(reply, "HTTP/1.1 "), 1u) << reply;
  }
  EXPECT_TRUE(d.process().running());
  EXPECT_EQ(d.get("/healthz").status, 200);
}
