// The engine's GET /events stream through the real client
// (EngineClient::follow_events): the fuzzer's bytes are the engine's whole
// answer (status line, headers, a chunked or plain body of JSON lines),
// written to the client's unix socket in pieces of the size the first byte
// says, so chunk boundaries, line ends and read boundaries fall anywhere.
// Must hold: no crash, the stream ends with an error (never ok()), every event
// handed on is a container event carrying the label, and when the answer is
// a complete 200 the events are exactly those of the whole body read at
// once, in order.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>

#include "clients/engine/client.hpp"
#include "clients/engine/json.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using namespace healthsweep::clients::engine;
using fuzz_support::local;

constexpr std::string_view kLabel = "hs.target";

bool carries(const EngineEvent& e) { return e.attributes.count(std::string(kLabel)) > 0; }

std::string key(const EngineEvent& e) { return e.type + "|" + e.action + "|" + e.id + "|" + e.name + "|" + e.health; }

// The events of a complete 200 answer, or nullopt when it is not one.
std::optional<std::vector<std::string>> reference(std::string_view answer) {
  http::response_parser<http::string_body> parser;
  // No body can be longer than the answer: a Content-Length past it is not a
  // complete answer (and string_body would reserve all of it up front, an
  // allocation of exabytes for "Content-Length: 8198552921648689602").
  parser.body_limit(answer.size());
  parser.eager(true);
  boost::system::error_code ec;
  auto rest = net::buffer(answer.data(), answer.size());
  if (!fuzz_support::put_all(parser, rest, ec) || parser.get().result_int() != 200) return std::nullopt;
  std::vector<std::string> out;
  EventLineBuffer lines(1 << 20);
  lines.feed(parser.get().body(), [&](std::string_view line) {
    auto parsed = parse_event_line(line);
    if (parsed.ok() && parsed.value.type == "container" && carries(parsed.value)) out.push_back(key(parsed.value));
  });
  return out;
}

struct World {
  net::io_context ioc{1};
  std::string path = fuzz_support::socket_dir() + "/engine-events.sock";
  local::acceptor acceptor{ioc};
  World() {
    spdlog::set_level(spdlog::level::off);
    fuzz_support::listen_unix(acceptor, path);
  }
};

// Not in LLVMFuzzerTestOneInput itself: g++ 12 mangles two coroutine
// lambdas of an extern "C" function to the same symbol.
void run(World* w, std::size_t piece, std::string_view answer) {
  EngineClient engine(w->ioc.get_executor(), w->path, "v1.41", std::chrono::milliseconds(2000));
  std::shared_ptr<local::socket> server_end;
  std::vector<std::string> got;
  bool finished = false;
  net::co_spawn(w->ioc, fuzz_support::serve_http_once(w->acceptor, fuzz_support::pieces_of(answer, piece), server_end),
                net::detached);
  net::co_spawn(w->ioc, [&]() -> net::awaitable<void> {
    const auto r = co_await engine.follow_events(EventsQuery(std::string(kLabel)), [&](const EngineEvent& e) {
      if (e.type != "container" || e.action.empty() || !carries(e)) std::abort();
      got.push_back(key(e));
    });
    if (r.ok() || r.error.rfind("engine: ", 0) != 0) std::abort();
    finished = true;
  }, net::detached);
  w->ioc.run();
  w->ioc.restart();
  if (!finished) std::abort();
  if (const auto expected = reference(answer); expected && *expected != got) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* w = new World;
  if (size < 1 || size > 256 * 1024) return 0;
  run(w, data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
