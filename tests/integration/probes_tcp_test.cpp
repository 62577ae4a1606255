// tcp_check against real loopback listeners: up, closed, gone, names, and a
// connect that hangs.
#include "clients/net/tcp_checker.hpp"

#include "tests/integration/probes_server.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::net;
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using tcp = net::ip::tcp;
using testing::probes::run;
using testing::probes::run_until;

config::Endpoint loopback(std::uint16_t port) { return config::Endpoint{"127.0.0.1", port}; }

TEST(ProbesTcp, ListenerUpIsAlive) {
  net::io_context ctx;
  tcp::acceptor listener(ctx, {net::ip::make_address("127.0.0.1"), 0});
  const auto port = listener.local_endpoint().port();
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), loopback(port), 2s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.detail, "connected to 127.0.0.1:" + std::to_string(port));
}

TEST(ProbesTcp, NothingListeningIsDead) {
  net::io_context ctx;
  const testing::ClosedPort closed;
  const auto port = static_cast<std::uint16_t>(closed.port());
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), loopback(port), 2s));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "connect: Connection refused");
}

TEST(ProbesTcp, ListenerThatClosesTurnsDead) {
  net::io_context ctx;
  auto listener = std::make_unique<tcp::acceptor>(ctx, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0});
  const auto port = listener->local_endpoint().port();
  EXPECT_TRUE(run(ctx, tcp_check(ctx.get_executor(), loopback(port), 2s)).alive);
  listener.reset();
  const auto after = run(ctx, tcp_check(ctx.get_executor(), loopback(port), 2s));
  EXPECT_FALSE(after.alive);
  EXPECT_EQ(after.detail, "connect: Connection refused");
}

TEST(ProbesTcp, LocalhostIsResolved) {
  net::io_context ctx;
  tcp::acceptor listener(ctx, {net::ip::make_address("127.0.0.1"), 0});
  const config::Endpoint at{"localhost", listener.local_endpoint().port()};
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), at, 2s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
}

TEST(ProbesTcp, Ipv6LoopbackWorksWhenAvailable) {
  net::io_context ctx;
  boost::system::error_code ec;
  tcp::acceptor listener(ctx);
  listener.open(tcp::v6(), ec);
  if (!ec) listener.bind({net::ip::make_address("::1"), 0}, ec);
  if (!ec) listener.listen(16, ec);
  if (ec) GTEST_SKIP() << "SKIPPED LOUDLY: no IPv6 loopback on this machine (" << ec.message() << ")";
  const config::Endpoint at{"::1", listener.local_endpoint().port()};
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), at, 2s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  EXPECT_EQ(outcome.detail, "connected to [::1]:" + std::to_string(at.port));
}

TEST(ProbesTcp, ConnectThatHangsTimesOutWithinTheBound) {
  // A blackholed address is hard to get on loopback, but a listener whose
  // accept queue is full makes the kernel drop further SYNs: the connect
  // hangs in SYN_SENT exactly like one to a host that has gone away.
  net::io_context ctx;
  tcp::acceptor listener(ctx);
  listener.open(tcp::v4());
  listener.bind({net::ip::make_address("127.0.0.1"), 0});
  listener.listen(0);  // never accepted: the queue fills at once
  const auto at = listener.local_endpoint();
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  int settled = 0;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(std::make_unique<tcp::socket>(ctx));
    fillers.back()->async_connect(at, [&](boost::system::error_code) { ++settled; });
  }
  run_until(ctx, [&] { return false; }, 300ms);  // let the queue fill
  if (settled == 3) {
    GTEST_SKIP() << "SKIPPED LOUDLY: this kernel accepted connections beyond the listen backlog;"
                    " cannot make a connect hang on loopback";
  }
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), loopback(at.port()), 300ms));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "timeout after 300 ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, healthsweep::testing::hang_bound);
  for (auto& s : fillers) s->close();
}

TEST(ProbesTcp, UnresolvableNameIsDeadWithinTheBound) {
  // A first label of 64 characters, one more than DNS allows (RFC 1035):
  // glibc's getaddrinfo refuses it without asking a DNS server (checked with
  // strace: no packet, where "healthsweep-test.invalid" sent one to the
  // machine's resolver, which is off this host; tests talk to loopback only).
  // Whether the resolver says so at once or not, the check ends by its deadline.
  const std::string name = std::string(64, 'a') + ".invalid";
  net::io_context ctx;
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = run(ctx, tcp_check(ctx.get_executor(), config::Endpoint{name, 80}, 500ms));
  EXPECT_FALSE(outcome.alive);
  EXPECT_LT(std::chrono::steady_clock::now() - started, healthsweep::testing::hang_bound);
  const bool resolve_error = outcome.detail.rfind("resolve " + name + ": ", 0) == 0;
  EXPECT_TRUE(resolve_error || outcome.detail == "timeout after 500 ms") << outcome.detail;
}

}  // namespace
}  // namespace healthsweep::sweeps
