// The engine client against the real engines of scripts/services, each test
// on both the Podman API service and the Docker Engine: real containers
// (--network none) created, killed and removed by each test.
#include "clients/engine/client.hpp"

#include "tests/support/bounds.hpp"
#include "tests/support/engine.hpp"
#include "tests/support/process.hpp"
#include "tests/support/engine_fake_server.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <gtest/gtest.h>

#include <iostream>

#include <unistd.h>

#include <regex>

using namespace healthsweep::clients::engine;

using namespace healthsweep::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

class EngineClientReal : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override {
    HS_REQUIRE_ENGINE(engine, GetParam());
    socket_ = engine.socket();
    cli_ = engine.command();
    image_ = engine.image();
    flags_ = engine.create_flags();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info->name();  // "Name/Docker": no '/' in a container name
    for (char& c : test) if (c == '/') c = '-';
    prefix_ = "hs-eng-" + std::to_string(getpid()) + "-" + test;
    label_ = "healthsweep.itest." + std::to_string(getpid()) + "." + test;
  }

  void TearDown() override {
    for (const auto& name : created_) run_shell(cli_ + (docker() ? " rm -f " : " rm -f -t 0 ") + name);
  }

  bool docker() const { return GetParam() == EngineKind::docker; }

  // Starts `sleep 100000` in a new container and returns its id.
  std::string run_container(const std::string& suffix, const std::string& extra_args = {}) {
    const std::string name = prefix_ + "-" + suffix;
    created_.push_back(name);
    std::string out;
    const int rc = run_shell(cli_ + " run -d " + flags_ + " --name " + name + " " + extra_args + " " + image_ +
                                 " sleep 100000",
                             &out);
    EXPECT_EQ(rc, 0) << out;
    std::smatch m;
    static const std::regex id_re("[0-9a-f]{64}");
    return std::regex_search(out, m, id_re) ? m.str() : std::string();
  }
  std::string name_of(const std::string& suffix) const { return prefix_ + "-" + suffix; }
  std::string labelled(const std::string& value = "1") const { return "--label " + label_ + "=" + value; }

  // "<engine CLI> <args>"
  int cli(const std::string& args, std::string* out = nullptr) { return run_shell(cli_ + " " + args, out); }

  EngineClient client(std::chrono::milliseconds timeout = 10s, EngineClientOptions options = {}) {
    return EngineClient(io_.get_executor(), socket_, "v1.41", timeout, options);
  }

  net::io_context io_;
  std::string socket_, cli_, image_, flags_, prefix_, label_;
  std::vector<std::string> created_;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, EngineClientReal, ::testing::Values(EngineKind::podman, EngineKind::docker),
                         EngineName());

TEST_P(EngineClientReal, PingAnswers) {
  auto engine = client();
  auto r = run_on(io_, engine.ping());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_status, 200u);
  EXPECT_EQ(r.value.api_version, "1.41");
  // Server: "Docker/20.10.24+dfsg1 (linux)" / "Libpod/4.3.1 (linux)"
  EXPECT_NE(r.value.server.find(docker() ? "Docker/" : "Libpod/"), std::string::npos) << r.value.server;
}

// The locality key of cluster ownership (issue 14): the same at every call
// and for every client of one engine, so two daemons on one engine agree.
TEST_P(EngineClientReal, IdentityIsStableAndNamesTheEngine) {
  auto first = client();
  auto second = client();
  auto a = run_on(io_, first.identity());
  ASSERT_TRUE(a.ok()) << a.error;
  auto b = run_on(io_, second.identity());
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_FALSE(a.value.id.empty()) << "ID";
  // Podman's compat API answers a new UUID at every call: its storage root stands in.
  if (!docker()) {
    EXPECT_EQ(a.value.id.rfind("root:/", 0), 0u) << a.value.id;
  }
  EXPECT_FALSE(a.value.name.empty()) << "Name";
  EXPECT_EQ(a.value.key(), b.value.key());
  std::cout << (docker() ? "docker" : "podman") << " identity: " << a.value.key() << "\n";
}

TEST_P(EngineClientReal, LabelFilterListsOnlyLabelledContainersInOneCall) {
  const auto a = run_container("a", labelled("ws-a"));
  const auto b = run_container("b");
  auto engine = client();
  auto labelled_only = run_on(io_, engine.list(label_));
  ASSERT_TRUE(labelled_only.ok()) << labelled_only.error;
  ASSERT_EQ(labelled_only.value.size(), 1u);
  EXPECT_EQ(labelled_only.value[0].id, a);
  EXPECT_EQ(labelled_only.value[0].name, name_of("a"));
  EXPECT_EQ(labelled_only.value[0].state, "running");
  EXPECT_EQ(labelled_only.value[0].labels.at(label_), "ws-a");
  EXPECT_EQ(engine.requests_sent(), 1u);

  auto everything = run_on(io_, engine.list(""));
  ASSERT_TRUE(everything.ok()) << everything.error;
  int found = 0;
  for (const auto& c : everything.value) found += (c.id == a || c.id == b);
  EXPECT_EQ(found, 2);
}

TEST_P(EngineClientReal, InspectRunningExitedAndUnknown) {
  const auto running = run_container("up", labelled());
  run_container("down");
  ASSERT_EQ(cli("kill " + name_of("down")), 0);
  ASSERT_EQ(cli("wait " + name_of("down")), 0);
  auto engine = client();

  auto up = run_on(io_, engine.inspect(running));
  ASSERT_TRUE(up.ok()) << up.error;
  EXPECT_TRUE(up.value.running);
  EXPECT_EQ(up.value.status, "running");
  EXPECT_EQ(up.value.name, name_of("up"));
  EXPECT_EQ(up.value.labels.at(label_), "1");

  auto down = run_on(io_, engine.inspect(name_of("down")));
  ASSERT_TRUE(down.ok()) << down.error;
  EXPECT_FALSE(down.value.running);
  EXPECT_EQ(down.value.status, "exited");
  EXPECT_EQ(down.value.exit_code, 137);

  auto unknown = run_on(io_, engine.inspect(name_of("never-created")));
  EXPECT_TRUE(unknown.not_found());
  EXPECT_EQ(unknown.http_status, 404u);
  EXPECT_NE(unknown.error.find("engine: inspect " + name_of("never-created") + ": 404 "), std::string::npos)
      << unknown.error;
  // The engine's own message: Docker "No such container: NAME", Podman
  // "no container with name or ID \"NAME\" found: no such container".
  EXPECT_NE(unknown.error.find(docker() ? "No such container: " + name_of("never-created") : "no such container"),
            std::string::npos) << unknown.error;
}

TEST_P(EngineClientReal, RestartAndStartBringAnExitedContainerBack) {
  const auto id = run_container("r", labelled());
  auto engine = client();
  const auto kill_and_wait = [&] {
    ASSERT_EQ(cli("kill " + id), 0);
    ASSERT_EQ(cli("wait " + id), 0);
    auto r = run_on(io_, engine.inspect(id));
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_FALSE(r.value.running);
  };

  kill_and_wait();
  auto restarted = run_on(io_, engine.restart(id, 1));
  ASSERT_TRUE(restarted.ok()) << restarted.error;
  auto after_restart = run_on(io_, engine.inspect(id));
  ASSERT_TRUE(after_restart.ok()) << after_restart.error;
  EXPECT_TRUE(after_restart.value.running);

  kill_and_wait();
  auto started = run_on(io_, engine.start(id));
  ASSERT_TRUE(started.ok()) << started.error;
  EXPECT_EQ(started.http_status, 204u);
  auto after_start = run_on(io_, engine.inspect(id));
  ASSERT_TRUE(after_start.ok()) << after_start.error;
  EXPECT_TRUE(after_start.value.running);

  auto again = run_on(io_, engine.start(id));
  EXPECT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.http_status, 304u) << "already running";

  auto missing = run_on(io_, engine.restart(name_of("never-created"), 1));
  EXPECT_TRUE(missing.not_found()) << missing.error;
}

TEST_P(EngineClientReal, EventStreamSeesTheDieOfAKilledLabelledContainer) {
  using namespace net::experimental::awaitable_operators;
  const auto watched = run_container("watched", labelled());
  const auto other = run_container("other");
  auto engine = client();
  std::vector<EngineEvent> events;
  bool saw_die = false;
  auto follow = engine.follow_events(
      EventsQuery{label_, std::chrono::system_clock::now() - 1s},
      [&](const EngineEvent& e) {
        events.push_back(e);
        if (e.id == watched && e.action == "die") {
          saw_die = true;
          engine.stop_events();
        }
      },
      [&] {
        // The request is on the wire and `since` covers the gap: kill both.
        cli("kill " + other);
        cli("kill " + watched);
      });
  auto end = run_on(io_, [&]() -> net::awaitable<EngineResult<void>> {
    net::steady_timer limit(co_await net::this_coro::executor, 30s);
    auto v = co_await (std::move(follow) || limit.async_wait(net::use_awaitable));
    if (v.index() == 0) co_return std::get<0>(v);
    co_return EngineResult<void>{};
  }(), 40s);
  EXPECT_TRUE(saw_die) << "no die event within 30 s; stream ended with: " << end.error;
  EXPECT_EQ(end.ec, net::error::operation_aborted) << end.error;
  for (const auto& e : events) {
    EXPECT_NE(e.id, other) << "an unlabelled container's event passed the label filter: " << e.action;
    EXPECT_EQ(e.type, "container");
  }
  const auto die = std::find_if(events.begin(), events.end(), [](const auto& e) { return e.action == "die"; });
  ASSERT_NE(die, events.end());
  EXPECT_EQ(die->name, name_of("watched"));
  EXPECT_EQ(die->exit_code, 137);
  EXPECT_LT(std::chrono::system_clock::now() - die->time, 60s) << "event time comes from timeNano";
}

TEST_P(EngineClientReal, UnhealthyContainerIsVisibleInInspectListAndEvents) {
  // Podman runs the check when asked (`healthcheck run`, no systemd timers
  // here); Docker runs it itself, here every second.
  const auto id = run_container("h", labelled() + " --health-cmd 'test -f /tmp/ok' --health-retries 1" +
                                         (docker() ? " --health-interval 1s" : ""));
  auto engine = client();
  std::vector<EngineEvent> events;
  net::co_spawn(io_,
                engine.follow_events(EventsQuery{label_, std::chrono::system_clock::now() - 30s},
                                     [&](const EngineEvent& e) { events.push_back(e); }),
                net::detached);

  std::string out;
  const auto health_is = [&](const char* expected) {
    if (!docker()) return cli("healthcheck run " + id, &out) == (std::string(expected) == "healthy" ? 0 : 1);
    return eventually([&] {
      auto r = run_on(io_, engine.inspect(id));
      return r.ok() && r.value.health == expected;
    }, 20s);
  };
  EXPECT_TRUE(health_is("unhealthy")) << out;
  auto sick = run_on(io_, engine.inspect(id));
  ASSERT_TRUE(sick.ok()) << sick.error;
  EXPECT_TRUE(sick.value.running);
  EXPECT_EQ(sick.value.health, "unhealthy");
  auto listed = run_on(io_, engine.list_with_health(label_));
  ASSERT_TRUE(listed.ok()) << listed.error;
  ASSERT_EQ(listed.value.size(), 1u);
  EXPECT_EQ(listed.value[0].health, "unhealthy");

  ASSERT_EQ(cli("exec " + id + " touch /tmp/ok"), 0);
  EXPECT_TRUE(health_is("healthy")) << out;
  auto well = run_on(io_, engine.inspect(id));
  ASSERT_TRUE(well.ok()) << well.error;
  EXPECT_EQ(well.value.health, "healthy");
  auto relisted = run_on(io_, engine.list_with_health(label_));
  ASSERT_TRUE(relisted.ok()) << relisted.error;
  EXPECT_EQ(relisted.value.at(0).health, "healthy");

  const auto seen_unhealthy = [&] {
    for (const auto& e : events)
      if (e.id == id && e.action == "health_status" && e.health == "unhealthy") return true;
    return false;
  };
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!seen_unhealthy() && std::chrono::steady_clock::now() < end) io_.run_one_for(50ms);
  EXPECT_TRUE(seen_unhealthy()) << events.size() << " events, no health_status unhealthy";
  engine.stop_events();
  io_.poll();
}

// No engine needed: a socket of the test's own.
TEST(EngineClientSocket, ASocketThatAcceptsButNeverAnswersTimesOut) {
  net::io_context io_;
  TempDir dir;
  const auto path = dir.file("silent.sock");
  net::local::stream_protocol::acceptor acceptor(io_, net::local::stream_protocol::endpoint(path));
  std::vector<std::shared_ptr<net::local::stream_protocol::socket>> held;
  std::function<void()> accept_next = [&] {
    auto s = std::make_shared<net::local::stream_protocol::socket>(io_);
    acceptor.async_accept(*s, [&, s](boost::system::error_code ec) {
      if (ec) return;
      held.push_back(s);  // accepted, never read, never answered
      accept_next();
    });
  };
  accept_next();
  EngineClient engine(io_.get_executor(), path, "v1.41", 300ms);
  const auto started = std::chrono::steady_clock::now();
  auto r = run_on(io_, engine.inspect("ws-1"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, healthsweep::testing::hang_bound);
  EXPECT_EQ(r.ec, boost::system::errc::timed_out) << r.error;
  EXPECT_FALSE(r.answered());
  EXPECT_EQ(r.error, "engine: inspect ws-1: no answer within 300 ms");
  auto again = run_on(io_, engine.ping());
  EXPECT_EQ(again.ec, boost::system::errc::timed_out) << again.error;
  EXPECT_EQ(engine.stats().connections_opened, 2u) << "a timed-out connection is not reused";
  EXPECT_EQ(held.size(), 2u);
  acceptor.close();
}

TEST_P(EngineClientReal, KeepAliveConnectionsAreReusedAndCapped) {
  const auto id = run_container("k", labelled());
  auto engine = client(10s, EngineClientOptions{.max_connections = 3});
  const int sequential_ok = run_on(io_, [&]() -> net::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < 10; ++i) {
      auto a = co_await engine.inspect(id);
      auto b = co_await engine.list(label_);
      ok += a.ok() && b.ok();
    }
    co_return ok;
  }());
  EXPECT_EQ(sequential_ok, 10);
  EXPECT_EQ(engine.requests_sent(), 20u);
  EXPECT_EQ(engine.stats().connections_opened, 1u);

  int storm_ok = 0, storm_done = 0;
  for (int i = 0; i < 30; ++i)
    net::co_spawn(io_, engine.inspect(id), [&](std::exception_ptr, EngineResult<ContainerInfo> r) {
      ++storm_done;
      storm_ok += r.ok() && r.value.running;
    });
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (storm_done < 30 && std::chrono::steady_clock::now() < end) io_.run_one_for(50ms);
  EXPECT_EQ(storm_ok, 30);
  EXPECT_EQ(engine.requests_sent(), 50u);
  EXPECT_LE(engine.stats().connections_opened, 3u);
}
