// The listener itself (daemon/http_server.cpp) on a loopback port, with a
// stand-in handler: session bookkeeping, connection caps, framing checks
// and deadlines. The io_context runs on its own thread; everything that
// touches the server goes through it (run_on).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <atomic>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/http_server.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/read_until_closed.hpp"

using namespace healthsweep::daemon;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

struct Answered {
  std::string target;
  int status;
};

class Server {
 public:
  explicit Server(Handler handler, HttpLimits limits = {}) {
    HttpEvents events;
    events.answered_itself = [this](std::string_view target, int status) {
      std::lock_guard lock(mu);
      answered.push_back({std::string(target), status});
    };
    server = std::make_unique<HttpServer>(ioc.get_executor(), healthsweep::config::Endpoint{"127.0.0.1", 0},
                                          std::move(handler), limits, std::move(events));
    server->start();
    const auto addr = server->local_address();
    port = static_cast<unsigned short>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    thread = std::thread([this] { ioc.run(); });
  }
  template <class F>
  auto run_on(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    net::post(ioc, [&task] { task(); });
    return result.get();
  }
  ~Server() {
    run_on([this] { server.reset(); return 0; });
    work.reset();
    ioc.stop();
    thread.join();
  }
  std::size_t open() { return run_on([this] { return server->open_connections(); }); }
  bool open_becomes(std::size_t n, std::chrono::milliseconds limit = 5s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (open() == n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return open() == n;
  }
  std::vector<Answered> answers() {
    std::lock_guard lock(mu);
    return answered;
  }

  net::io_context ioc{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{ioc.get_executor()};
  std::unique_ptr<HttpServer> server;
  unsigned short port = 0;
  std::thread thread;
  std::mutex mu;
  std::vector<Answered> answered;
};

Response ok(Request&& req) {
  Response res{http::status::ok, req.version()};
  res.body() = "ok";
  res.prepare_payload();
  return res;
}

// A blocking client socket, optionally from another loopback address.
struct Client {
  net::io_context ioc;
  net::ip::tcp::socket s{ioc};
  Client(unsigned short port, const char* from = "127.0.0.1") {
    s.open(net::ip::tcp::v4());
    s.bind({net::ip::make_address(from), 0});
    s.connect({net::ip::make_address("127.0.0.1"), port});
  }
  void send(std::string_view bytes) { net::write(s, net::buffer(bytes)); }
  // Everything until the peer closes, or `limit` passes.
  std::string read_all(std::chrono::milliseconds limit = 5s) {
    return healthsweep::testing::read_until_closed(s, limit);
  }
  // True once the server closed its side (EOF or reset), within `limit`.
  bool closed_by_server(std::chrono::milliseconds limit) {
    s.non_blocking(true);
    const auto end = std::chrono::steady_clock::now() + limit;
    do {
      char b;
      boost::system::error_code ec;
      s.read_some(net::buffer(&b, 1), ec);
      if (ec && ec != net::error::would_block) return true;
      std::this_thread::sleep_for(2ms);
    } while (std::chrono::steady_clock::now() < end);
    return false;
  }
};

}  // namespace

// An answer that needs I/O (a hook report forwarded to its owner) is
// awaited: pipelined requests are still answered in order, and another
// connection is served while it waits.
TEST(HttpServer, AnAwaitedAnswerKeepsTheOrderAndDoesNotHoldTheLoop) {
  Server server([](Request&& req) -> Reply {
    if (req.target() != "/slow") return ok(std::move(req));
    return [](unsigned version) -> net::awaitable<Response> {
      net::steady_timer wait(co_await net::this_coro::executor, 2s);
      co_await wait.async_wait(net::use_awaitable);
      Response res{http::status::accepted, version};
      res.body() = "slow";
      res.prepare_payload();
      co_return res;
    }(req.version());
  });
  Client pipelined(server.port);
  const auto started = std::chrono::steady_clock::now();
  pipelined.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  Client other(server.port);
  other.send("GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.read_all().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms) << "served while the slow answer waits";
  const auto both = pipelined.read_all();
  EXPECT_EQ(both.rfind("HTTP/1.1 202", 0), 0u) << both;
  EXPECT_NE(both.find("HTTP/1.1 200", both.find("slow")), std::string::npos) << "then the second, in order: " << both;
}

TEST(HttpServer, ThrowingHandlerLeavesNoSessionBehindAndStopIsSafe) {
  // The session ends by the exception; its entry in the session list must go
  // with it, or stop() touches a destroyed stream.
  Server srv([](Request&&) -> Response { throw std::runtime_error("handler failed"); });
  {
    Client c(srv.port);
    c.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(c.closed_by_server(5s));
  }
  EXPECT_TRUE(srv.open_becomes(0)) << srv.open() << " sessions left after a throwing handler";
  // Another connection idle in a read while stop() walks the session list.
  Client idle(srv.port);
  EXPECT_TRUE(srv.open_becomes(1));
  srv.run_on([&] { srv.server->stop(); return 0; });
  EXPECT_TRUE(idle.closed_by_server(5s));
  EXPECT_TRUE(srv.open_becomes(0));
}

TEST(HttpServer, ThrowingHandlersManyTimesKeepTheCountRight) {
  std::atomic<int> calls{0};
  Server srv([&](Request&& req) -> Response {
    if (++calls % 2) throw std::runtime_error("odd call");
    return ok(std::move(req));
  });
  for (int i = 0; i < 20; ++i) {
    Client c(srv.port);
    c.send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.read_all();
  }
  EXPECT_TRUE(srv.open_becomes(0));
  EXPECT_EQ(calls.load(), 20);
}

TEST(HttpServer, PerClientCapClosesTheExtraConnectionsOfOneAddressOnly) {
  HttpLimits limits;
  limits.max_connections_per_client = 3;
  Server srv(ok, limits);
  std::vector<std::unique_ptr<Client>> greedy;
  for (int i = 0; i < 6; ++i) greedy.push_back(std::make_unique<Client>(srv.port, "127.0.0.1"));
  int closed = 0;
  for (auto& c : greedy) closed += c->closed_by_server(300ms) ? 1 : 0;
  EXPECT_EQ(closed, 3);
  EXPECT_TRUE(srv.open_becomes(3));
  // Another address is not affected.
  Client other(srv.port, "127.0.0.2");
  other.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.read_all().rfind("HTTP/1.1 200", 0), 0u);
  // Once the greedy client lets go, it may connect again.
  greedy.clear();
  EXPECT_TRUE(srv.open_becomes(0));
  Client again(srv.port, "127.0.0.1");
  again.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(again.read_all().rfind("HTTP/1.1 200", 0), 0u);
}

TEST(HttpServer, AtTheCapTheConnectionThatWaitedLongestMakesRoomForANewOne) {
  HttpLimits limits;
  limits.max_connections = 4;
  Server srv(ok, limits);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Client>(srv.port, "127.0.0.1"));
    ASSERT_TRUE(srv.open_becomes(static_cast<std::size_t>(i + 1)));
  }
  Client fresh(srv.port, "127.0.0.2");
  fresh.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(fresh.read_all().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_TRUE(idle[0]->closed_by_server(2s)) << "the oldest idle connection is the one closed";
  EXPECT_FALSE(idle[3]->closed_by_server(100ms));
  EXPECT_TRUE(srv.open_becomes(3));
}

TEST(HttpServer, SmugglingShapesAre400WithoutReachingTheHandler) {
  std::atomic<int> calls{0};
  Server srv([&](Request&& req) { ++calls; return ok(std::move(req)); });
  const char* shapes[] = {
      // duplicate Content-Length, same value (the parser would merge them)
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
      // duplicate Content-Length, different values
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 20\r\n\r\n{}",
      // Transfer-Encoding with Content-Length, both orders
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
      // obs-fold (a continuation line)
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity,\r\n\tchunked\r\n\r\n",
  };
  for (const char* shape : shapes) {
    Client c(srv.port);
    c.send(shape);
    const auto reply = c.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << shape << "\n-> " << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  }
  EXPECT_EQ(calls.load(), 0);
  const auto answers = srv.answers();
  ASSERT_EQ(answers.size(), std::size(shapes));
  EXPECT_EQ(answers[0].target, "/hooks/connection-error");
  EXPECT_EQ(answers[0].status, 400);
  EXPECT_EQ(answers[4].target, "/healthz");
}

// The listener's own refusal of a HEAD carries the Content-Length of its
// error body but not the body: the client, which sent HEAD, reads none, and
// stray body bytes would be taken for the next response (fuzz_http_request
// found this with a HEAD whose header had a folded line).
TEST(HttpServer, OwnRefusalOfAHeadHasNoBody) {
  Server srv(ok);
  const char* heads[] = {
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",                         // 400, framing
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",                          // 400, parser
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",                      // 413
  };
  for (const char* request : heads) {
    Client c(srv.port);
    c.send(request);
    const auto reply = c.read_all();
    const auto end = reply.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << request << "\n-> " << reply;
    EXPECT_EQ(reply.rfind("HTTP/1.1 4", 0), 0u) << reply;
    EXPECT_NE(reply.find("Content-Length: "), std::string::npos) << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
    EXPECT_EQ(end + 4, reply.size()) << "a body after the header of a HEAD's answer:\n" << reply;
  }
  // The same refusal of a GET keeps its body.
  Client c(srv.port);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n");
  EXPECT_NE(c.read_all().find("obsolete line folding"), std::string::npos);
}

TEST(HttpServer, OwnAnswersAreReportedWithTheirTarget) {
  Server srv(ok);
  {
    Client c(srv.port);
    c.send("POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" +
           std::string(1000, 'x'));
    EXPECT_EQ(c.read_all().rfind("HTTP/1.1 413", 0), 0u);
  }
  {
    Client c(srv.port);
    c.send("POST /hooks/connection-error?x=1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
           "\r\n\r\n");
    EXPECT_EQ(c.read_all().rfind("HTTP/1.1 431", 0), 0u);
  }
  {
    Client c(srv.port);
    c.send("POST /hooks/connection-error HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n");
    EXPECT_EQ(c.read_all().rfind("HTTP/1.1 400", 0), 0u);
  }
  const auto answers = srv.answers();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].status, 413);
  EXPECT_EQ(answers[0].target, "/hooks/connection-error");
  EXPECT_EQ(answers[1].status, 431);
  EXPECT_EQ(answers[1].target, "/hooks/connection-error?x=1");
  EXPECT_EQ(answers[2].status, 400);
  EXPECT_EQ(answers[2].target, "/hooks/connection-error");
}

TEST(HttpServer, SlowlorisIsCutByTheReadDeadlineWhileOthersAreServed) {
  HttpLimits limits;
  limits.read_timeout = 400ms;
  Server srv(ok, limits);
  Client slow(srv.port);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (char ch : request) {
    boost::system::error_code ec;
    net::write(slow.s, net::buffer(&ch, 1), ec);
    if (ec || slow.closed_by_server(100ms)) { closed = true; break; }
    Client other(srv.port, "127.0.0.2");
    other.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(other.read_all().rfind("HTTP/1.1 200", 0), 0u);
  }
  EXPECT_TRUE(closed) << "a client sending one byte per 100 ms outlived a 400 ms deadline";
  EXPECT_LT(std::chrono::steady_clock::now() - start, healthsweep::testing::hang_bound);
}

TEST(HttpServer, PipelinedRequestsAfterTheHeaderCheckAreStillAnsweredInOrder) {
  Server srv([](Request&& req) {
    Response res{http::status::ok, req.version()};
    res.body() = std::string(req.target()) + ":" + req.body();
    res.prepare_payload();
    return res;
  });
  Client c(srv.port);
  c.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
         "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
         "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
         "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto reply = c.read_all();
  const auto a = reply.find("/a:abc"), b = reply.find("/b:"), cc = reply.find("/c:xy"), d = reply.find("/d:");
  ASSERT_NE(d, std::string::npos) << reply;
  EXPECT_LT(a, b);
  EXPECT_LT(b, cc);
  EXPECT_LT(cc, d);
}

TEST(HttpFraming, ProblemsAndTheirAbsence) {
  EXPECT_EQ(framing_problem("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"), std::nullopt);
  EXPECT_EQ(framing_problem("GET / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n"), std::nullopt);
  EXPECT_TRUE(framing_problem("GET / HTTP/1.1\r\nContent-Length: 1\r\nCONTENT-LENGTH: 1\r\n\r\n"));
  EXPECT_TRUE(framing_problem("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"));
  EXPECT_TRUE(framing_problem("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"));
  EXPECT_TRUE(framing_problem("GET / HTTP/1.1\r\n\tA: b\r\n\r\n"));
  EXPECT_EQ(raw_request_target("POST /hooks/x?y HTTP/1.1\r\nHost"), "/hooks/x?y");
  EXPECT_EQ(raw_request_target("POST /hooks/x"), "");
  EXPECT_EQ(raw_request_target("GARBAGE\r\n"), "");
}
