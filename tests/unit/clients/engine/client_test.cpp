// The engine client's transport behaviour against a scripted unix-socket
// engine: keep-alive reuse, the pool cap under a storm of calls, deadlines
// that include waiting for a slot, the stale-connection retry, error
// messages, URL encoding, the Podman health fallback and the event stream.
// The real engine (Podman) is in tests/integration/engine_client_test.cpp.
#include "clients/engine/client.hpp"
#include "clients/engine/json.hpp"
#include "clients/engine/pool.hpp"

#include "tests/support/bounds.hpp"
#include "tests/support/process.hpp"
#include "tests/support/engine_fake_server.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <gtest/gtest.h>

#include <future>
#include <optional>

using namespace healthsweep::clients::engine;

using namespace healthsweep::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

std::string inspect_body(const std::string& id) {
  return R"({"Id":")" + id + R"(","Name":"/)" + id + R"(","State":{"Status":"running","Running":true}})";
}

std::string list_body(const std::vector<std::pair<std::string, std::string>>& id_state) {
  std::string body = "[";
  for (const auto& [id, state] : id_state) {
    if (body.size() > 1) body += ",";
    body += R"({"Id":")" + id + R"(","Names":["/)" + id + R"("],"State":")" + state + R"(","Status":"Up 1 second"})";
  }
  return body + "]";
}

std::string last_path_segment_before_json(std::string_view target) {
  const auto end = target.rfind("/json");
  const auto begin = target.rfind('/', end - 1);
  return std::string(target.substr(begin + 1, end - begin - 1));
}

class EngineClientFake : public ::testing::Test {
 protected:
  std::string socket() const { return dir_.file("engine.sock"); }
  TempDir dir_;
  net::io_context io_;
};

}  // namespace

TEST_F(EngineClientFake, SequentialCallsReuseOneKeepAliveConnection) {
  FakeEngine engine(io_, socket(), [](const auto& req) {
    return FakeReply{200, inspect_body(last_path_segment_before_json(req.target()))};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  const int calls = run_on(io_, [&]() -> net::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < 20; ++i) {
      const std::string name = "ws-" + std::to_string(i);
      auto r = co_await client.inspect(name);
      if (r.ok() && r.value.name == name) ++ok;
    }
    co_return ok;
  }());
  EXPECT_EQ(calls, 20);
  EXPECT_EQ(client.requests_sent(), 20u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(engine.connections(), 1);
  EXPECT_EQ(engine.targets().front(), "/v1.41/containers/ws-0/json");
}

TEST_F(EngineClientFake, AStormOfCallsNeverUsesMoreConnectionsThanTheCap) {
  FakeEngine engine(io_, socket(), [](const auto& req) {
    return FakeReply{200, inspect_body(last_path_segment_before_json(req.target())), 20ms};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 10s, EngineClientOptions{.max_connections = 4});
  int succeeded = 0;
  for (int i = 0; i < 40; ++i)
    net::co_spawn(io_, client.inspect(std::string("c").append(std::to_string(i))), [&](std::exception_ptr, EngineResult<ContainerInfo> r) {
      if (r.ok()) ++succeeded;
    });
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (succeeded < 40 && std::chrono::steady_clock::now() < end) io_.run_one_for(50ms);
  EXPECT_EQ(succeeded, 40);
  EXPECT_EQ(engine.max_in_flight(), 4);
  EXPECT_EQ(engine.connections(), 4);
  EXPECT_EQ(client.stats().connections_opened, 4u);
}

TEST_F(EngineClientFake, WaitingForASlotCountsAgainstTheDeadline) {
  // The one connection is held by a restart, whose deadline is the timeout
  // plus the stop grace (1.3 s), past the inspect's deadline (300 ms): the
  // inspect times out waiting for the slot, whatever the machine's load. (Two
  // inspects made this a race: both deadlines fell in the same microsecond.)
  FakeEngine engine(io_, socket(), [](const auto&) { return FakeReply::silence(); });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 300ms, EngineClientOptions{.max_connections = 1});
  std::optional<EngineResult<void>> restarted;
  std::optional<EngineResult<ContainerInfo>> inspected;
  net::co_spawn(io_, client.restart("slow", 1),
                [&](std::exception_ptr, EngineResult<void> r) { restarted = std::move(r); });
  net::co_spawn(io_, client.inspect("slow"),
                [&](std::exception_ptr, EngineResult<ContainerInfo> r) { inspected = std::move(r); });
  const auto start = std::chrono::steady_clock::now();
  while (!(restarted && inspected) && std::chrono::steady_clock::now() < start + healthsweep::testing::hang_bound)
    io_.run_one_for(50ms);
  ASSERT_TRUE(restarted && inspected);
  EXPECT_EQ(inspected->ec, boost::system::errc::timed_out) << inspected->error;
  EXPECT_FALSE(inspected->answered());
  EXPECT_EQ(inspected->error, "engine: inspect slow: no free engine connection within 300 ms (1 in use)");
  EXPECT_EQ(restarted->ec, boost::system::errc::timed_out) << restarted->error;
}

TEST_F(EngineClientFake, AnIdleConnectionClosedByTheEngineIsRetriedOnce) {
  FakeEngine engine(io_, socket(), [](const auto&) { return FakeReply{200, "OK", 0ms, /*close_silently=*/true}; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  const int ok = run_on(io_, [&]() -> net::awaitable<int> {
    int n = 0;
    for (int i = 0; i < 3; ++i) {
      auto r = co_await client.ping();
      if (r.ok()) ++n;
      // let the close reach the client before the next call
      net::steady_timer t(co_await net::this_coro::executor, 20ms);
      co_await t.async_wait(net::use_awaitable);
    }
    co_return n;
  }());
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(engine.requests(), 3);
  EXPECT_EQ(engine.connections(), 3);
  EXPECT_EQ(client.requests_sent(), 5u) << "calls 2 and 3 first tried the closed connection";
}

TEST_F(EngineClientFake, EngineErrorsBecomeClearMessages) {
  FakeEngine engine(io_, socket(), [](const auto& req) -> FakeReply {
    if (req.target().find("/ws-9/") != std::string_view::npos)
      return {404, R"({"cause":"no such container","message":"no container with name or ID \"ws-9\" found: no such container","response":404})"};
    if (req.target().find("/start") != std::string_view::npos) return {304, ""};
    if (req.target().find("/restart") != std::string_view::npos) return {500, "internal trouble\n"};
    return {200, "not json"};
  });
  EngineClient client(io_.get_executor(), socket(), "1.41", 2s);
  auto missing = run_on(io_, client.inspect("ws-9"));
  EXPECT_TRUE(missing.not_found());
  EXPECT_EQ(missing.http_status, 404u);
  EXPECT_EQ(missing.error, "engine: inspect ws-9: 404 no container with name or ID \"ws-9\" found: no such container");
  auto started = run_on(io_, client.start("ws-1"));
  EXPECT_TRUE(started.ok()) << started.error;
  EXPECT_EQ(started.http_status, 304u);
  auto restarted = run_on(io_, client.restart("ws-1", 3));
  EXPECT_EQ(restarted.ec, EngineErrc::server_error);
  EXPECT_EQ(restarted.error, "engine: restart ws-1: 500 internal trouble");
  auto garbled = run_on(io_, client.inspect("ws-2"));
  EXPECT_EQ(garbled.ec, EngineErrc::bad_response);
  EXPECT_TRUE(garbled.answered());
  EXPECT_EQ(garbled.error.rfind("engine: inspect ws-2: container inspect is not JSON", 0), 0u) << garbled.error;
  EXPECT_EQ(engine.targets()[2], "/v1.41/containers/ws-1/restart?t=3");
}

TEST_F(EngineClientFake, NoEngineSocketIsAConnectError) {
  EngineClient client(io_.get_executor(), socket(), "v1.41", 1s);
  auto r = run_on(io_, client.ping());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.answered());
  EXPECT_EQ(r.error, "engine: connect " + socket() + ": No such file or directory");
}

TEST_F(EngineClientFake, LabelFilterIsOneEncodedFiltersParameter) {
  FakeEngine engine(io_, socket(), [](const auto&) { return FakeReply{200, list_body({{"a", "running"}})}; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  auto r = run_on(io_, client.list("healthsweep.target"));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(engine.targets().size(), 1u);
  auto url = boost::urls::parse_origin_form(engine.targets()[0]);
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->path(), "/v1.41/containers/json");
  auto params = url->params();
  ASSERT_TRUE(params.find("all") != params.end());
  EXPECT_EQ((*params.find("all")).value, "1");
  ASSERT_TRUE(params.find("filters") != params.end());
  EXPECT_EQ(boost::json::parse((*params.find("filters")).value), boost::json::parse(R"({"label":["healthsweep.target"]})"));
}

TEST_F(EngineClientFake, ALargeListIsParsedOffTheLoopAndASmallOneInPlace) {
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 5000; ++i) many.emplace_back(std::string("c").append(std::to_string(i)), i % 7 ? "running" : "exited");
  std::string large = list_body(many);
  ASSERT_GE(large.size(), EngineClientOptions{}.parse_off_loop_bytes);
  bool small_next = false;
  FakeEngine engine(io_, socket(), [&](const auto&) {
    return FakeReply{200, small_next ? list_body({{"a", "running"}}) : large};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 5s);
  auto r = run_on(io_, client.list("k"));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.size(), 5000u);
  EXPECT_EQ(r.value[4999].id, "c4999");
  EXPECT_EQ(r.value[7].state, "exited");
  EXPECT_EQ(r.value[8].state, "running");
  EXPECT_EQ(client.stats().parsed_off_loop, 1u);
  small_next = true;
  auto s = run_on(io_, client.list("k"));
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.value.size(), 1u);
  EXPECT_EQ(client.stats().parsed_off_loop, 1u) << "a small answer is parsed in place";
  // A malformed large answer is an error like any other, not a crash.
  small_next = false;
  large.resize(large.size() / 2);
  auto bad = run_on(io_, client.list("k"));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("engine: list:"), std::string::npos) << bad.error;
}

TEST_F(EngineClientFake, AListsReaderWaitsWhileTheParseThreadIsBusyAndTheListIsWholeAfterwards) {
  // Issue 15: with the parse thread held (as when it gets no core), the
  // reader must stop after a few pieces instead of queueing the whole answer
  // in copies; once the thread is free, the list is complete and in order.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 20000; ++i) many.emplace_back(std::string("c").append(std::to_string(i)), i % 3 ? "running" : "exited");
  const std::string large = list_body(many);
  ASSERT_GT(large.size(), EngineClientOptions{}.parse_off_loop_bytes + std::size_t{8} * 64 * 1024);
  FakeEngine engine(io_, socket(), [&](const auto&) { return FakeReply{200, large}; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 10s);

  std::promise<void> release;
  std::promise<void> holding;
  net::post(detail::list_parse_thread(), [gate = release.get_future().share(), &holding] {
    holding.set_value();
    gate.wait();
  });
  holding.get_future().wait();
  std::optional<EngineResult<std::vector<ContainerSummary>>> result;
  net::co_spawn(io_, client.list("k"), [&](std::exception_ptr, EngineResult<std::vector<ContainerSummary>> r) {
    result = std::move(r);
  });
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) io_.run_one_for(10ms);
  EXPECT_FALSE(result.has_value());
  EXPECT_GE(client.stats().list_reader_waits, 1u) << "the reader went on while the parse thread was held";

  release.set_value();
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!result && std::chrono::steady_clock::now() < end) io_.run_one_for(50ms);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->error;
  ASSERT_EQ(result->value.size(), 20000u);
  EXPECT_EQ(result->value[0].id, "c0");
  EXPECT_EQ(result->value[19999].id, "c19999");
  EXPECT_EQ(result->value[3].state, "exited");
  EXPECT_EQ(result->value[4].state, "running");
}

TEST_F(EngineClientFake, AListReadInPiecesAcrossChunksIsTheSameListAndKeepsTheConnection) {
  // Issue 15: the body is parsed as it arrives, never held whole. Chunks cut
  // mid-string and mid-object, larger and smaller than the client's 64 KiB
  // pieces, must give the same list as one whole answer.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 3000; ++i) many.emplace_back(std::string("c").append(std::to_string(i)), i % 5 ? "running" : "exited");
  const std::string whole = list_body(many);
  ASSERT_GT(whole.size(), std::size_t{2} * 64 * 1024);
  std::vector<std::string> pieces;
  for (std::size_t at = 0, n = 7; at < whole.size(); at += n, n = n * 3 + 1) pieces.push_back(whole.substr(at, n));
  bool chunked = false;
  FakeEngine engine(io_, socket(), [&](const auto&) {
    if (!chunked) return FakeReply{200, whole};
    FakeReply r;
    r.stream_pieces = pieces;
    r.piece_gap = 1ms;
    return r;
  });
  const auto expected = parse_container_list(whole);
  ASSERT_TRUE(expected.ok());
  auto same_as_whole = [&](const EngineResult<std::vector<ContainerSummary>>& r) {
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_EQ(r.value.size(), 3000u);
    for (std::size_t i = 0; i < r.value.size(); ++i) {
      EXPECT_EQ(r.value[i].id, expected.value[i].id);
      EXPECT_EQ(r.value[i].state, expected.value[i].state);
    }
  };
  EngineClient client(io_.get_executor(), socket(), "v1.41", 5s);
  // Content-Length, twice on one keep-alive connection.
  same_as_whole(run_on(io_, client.list("k")));
  same_as_whole(run_on(io_, client.list("k")));
  EXPECT_EQ(client.stats().connections_opened, 1u) << "a body read in pieces leaves the connection reusable";
  // Chunked, in uneven chunks (the fake closes the connection after them).
  chunked = true;
  same_as_whole(run_on(io_, client.list("k")));
}

TEST_F(EngineClientFake, AnswersWithoutABodyEndTheCallAndKeepTheConnection) {
  // 204 (a restart, a start, as Docker and Podman answer them) and 304 have
  // no body: the call ends with the header, nothing more is waited for.
  FakeEngine engine(io_, socket(), [](const auto& req) -> FakeReply {
    if (req.target().find("/start") != std::string_view::npos) return {304, ""};
    return {204, ""};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  auto restarted = run_on(io_, client.restart("ws-1", 1));
  ASSERT_TRUE(restarted.ok()) << restarted.error;
  EXPECT_EQ(restarted.http_status, 204u);
  auto started = run_on(io_, client.start("ws-1"));
  ASSERT_TRUE(started.ok()) << started.error;
  EXPECT_EQ(started.http_status, 304u);
  auto again = run_on(io_, client.restart("ws-1", 1));
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(EngineClientFake, AListErrorAnswerKeepsTheEnginesMessage) {
  // Only a 2xx body is read in pieces: an error's body is its message.
  FakeEngine engine(io_, socket(), [](const auto&) {
    return FakeReply{500, R"({"message":"listing is broken today","response":500})"};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  auto r = run_on(io_, client.list("k"));
  EXPECT_EQ(r.ec, EngineErrc::server_error);
  EXPECT_EQ(r.error, "engine: list: 500 listing is broken today");
}

// g++ 12 destroys an aggregate temporary in a co_await expression twice: the
// query types must stay non-aggregates so that callers can write this.
static_assert(!std::is_aggregate_v<ListQuery> && !std::is_aggregate_v<EventsQuery>);

TEST_F(EngineClientFake, AQueryTemporaryInsideCoAwaitIsSafe) {
  FakeEngine engine(io_, socket(), [](const auto&) { return FakeReply{200, list_body({{"a", "running"}})}; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  const std::size_t total = run_on(io_, [&]() -> net::awaitable<std::size_t> {
    std::size_t n = 0;
    for (const char* health : {"unhealthy-filter-long-enough-to-allocate", "starting-filter-long-enough-to-allocate"})
      n += (co_await client.list(ListQuery{"a-label-long-enough-to-need-the-heap", true, health})).value.size();
    n += (co_await client.list(ListQuery{})).value.size();
    co_return n;
  }());
  EXPECT_EQ(total, 3u);
}

TEST_F(EngineClientFake, ListWithHealthFillsHealthFromFilteredListsWhenStatusHasNone) {
  FakeEngine engine(io_, socket(), [](const auto& req) -> FakeReply {
    const std::string target(req.target());
    if (target.find("unhealthy") != std::string::npos) return {200, list_body({{"b", "running"}})};
    if (target.find("starting") != std::string::npos) return {200, list_body({{"c", "running"}})};
    if (target.find("healthy") != std::string::npos) return {200, list_body({{"a", "running"}, {"zz", "running"}})};
    return {200, list_body({{"a", "running"}, {"b", "running"}, {"c", "running"}, {"d", "running"}})};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  auto r = run_on(io_, client.list_with_health("healthsweep.target"));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.size(), 4u);
  EXPECT_EQ(r.value[0].health, "healthy");
  EXPECT_EQ(r.value[1].health, "unhealthy");
  EXPECT_EQ(r.value[2].health, "starting");
  EXPECT_EQ(r.value[3].health, "");
  EXPECT_EQ(engine.requests(), 4);
}

TEST_F(EngineClientFake, ListWithHealthTrustsStatusTextWhenTheEngineWritesIt) {
  FakeEngine engine(io_, socket(), [](const auto&) {
    return FakeReply{200, R"J([{"Id":"a","State":"running","Status":"Up 1 second (unhealthy)"}])J"};
  });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  auto r = run_on(io_, client.list_with_health("k"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value[0].health, "unhealthy");
  EXPECT_EQ(engine.requests(), 1);
}

TEST_F(EngineClientFake, EventStreamDeliversLinesSplitAcrossChunksAndFiltersByLabel) {
  const std::string die =
      R"({"Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{"name":"ws-1","healthsweep.target":"ws-1","exitCode":"137"}},"timeNano":1700000000000000001})";
  const std::string other =
      R"({"Type":"container","Action":"die","Actor":{"ID":"c2","Attributes":{"name":"unrelated"}},"timeNano":1700000000000000002})";
  const std::string health =
      R"({"Type":"container","Action":"health_status: unhealthy","Actor":{"ID":"c1","Attributes":{"name":"ws-1","healthsweep.target":"ws-1"}},"timeNano":1700000000000000003})";
  FakeReply stream;
  stream.stream_pieces = {die.substr(0, 30), die.substr(30) + "\n" + other + "\n" + health.substr(0, 5),
                          health.substr(5) + "\n", "not json\n"};
  stream.piece_gap = 10ms;
  FakeEngine engine(io_, socket(), [&](const auto&) { return stream; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  std::vector<EngineEvent> events;
  bool connected = false;
  EventsQuery query{"healthsweep.target", std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  auto end = run_on(io_, client.follow_events(query, [&](const EngineEvent& e) { events.push_back(e); },
                                              [&] { connected = true; }));
  EXPECT_TRUE(connected);
  EXPECT_EQ(end.ec, boost::beast::http::error::end_of_stream) << end.error;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action, "die");
  EXPECT_EQ(events[0].exit_code, 137);
  EXPECT_EQ(events[1].action, "health_status");
  EXPECT_EQ(events[1].health, "unhealthy");
  EXPECT_EQ(client.stats().events_malformed, 1u);
  auto url = boost::urls::parse_origin_form(engine.targets()[0]);
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->path(), "/v1.41/events");
  EXPECT_EQ((*url->params().find("since")).value, "1700000000.000000000");
  EXPECT_EQ(boost::json::parse((*url->params().find("filters")).value), boost::json::parse(R"({"type":["container"]})"));
}

TEST_F(EngineClientFake, StopEventsEndsAnOpenStream) {
  FakeReply stream;
  stream.stream_pieces = {R"({"Type":"container","Action":"start","Actor":{"ID":"c1"}})" "\n"};
  stream.stream_keeps_open = true;
  FakeEngine engine(io_, socket(), [&](const auto&) { return stream; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  int seen = 0;
  auto end = run_on(io_, client.follow_events("", [&](const EngineEvent&) {
    ++seen;
    client.stop_events();
  }));
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(end.ec, net::error::operation_aborted) << end.error;
}

TEST_F(EngineClientFake, CancellingTheCallerEndsTheStream) {
  using namespace net::experimental::awaitable_operators;
  FakeReply stream;
  stream.stream_pieces = {"\n"};
  stream.stream_keeps_open = true;
  FakeEngine engine(io_, socket(), [&](const auto&) { return stream; });
  EngineClient client(io_.get_executor(), socket(), "v1.41", 2s);
  const auto started = std::chrono::steady_clock::now();
  auto which = run_on(io_, [&]() -> net::awaitable<std::size_t> {
    net::steady_timer timer(co_await net::this_coro::executor, 200ms);
    auto stream = client.follow_events("", [](const EngineEvent&) {});
    auto v = co_await (std::move(stream) || timer.async_wait(net::use_awaitable));
    co_return v.index();
  }());
  EXPECT_EQ(which, 1u) << "the timer won";
  EXPECT_LT(std::chrono::steady_clock::now() - started, healthsweep::testing::hang_bound);
}
