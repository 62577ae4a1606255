// The answers the loop parses most (issue 15, fleet profile): a container
// inspect is one reactive check, 4,000 a second in bench/fleet.sh, and each
// event of the engine's stream is a small document too. Times
// parse_inspect and parse_event_line (their documents in a buffer on the
// stack, clients/engine/json.cpp) against a plain boost::json::parse of the
// same text with the default heap resource, which is what each of them cost
// before, less the fields' extraction: a ratio under 1 is a saving over the
// old parse even before counting what the old one did after it.
// Times are medians of this thread's CPU time over batches of parses.
// Usage: bench_engine_inspect [INSPECT_JSON [rounds=200]]
//   INSPECT_JSON  default tests/fuzz/corpus/fuzz_engine_json/podman_inspect_health.json
//                 (a real Podman 4.3 inspect, 4.4 KB), read from the working directory
#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/thread_cpu.hpp"
#include "clients/engine/json.hpp"

using namespace healthsweep::clients::engine;

namespace {

constexpr int batch = 1000;

template <class F>
double median_us(int rounds, F&& f) {
  return healthsweep::bench::median_thread_cpu_seconds(rounds, [&] {
           for (int i = 0; i < batch; ++i) f();
         }) *
         1e6 / batch;
}

void compare(const char* what, const std::string& text, int rounds, bool (*ours)(const std::string&)) {
  volatile std::size_t sink = 0;
  const double mine = median_us(rounds, [&] { sink = sink + (ours(text) ? 1 : 0); });
  const double plain = median_us(rounds, [&] {
    boost::system::error_code ec;
    sink = sink + boost::json::parse(text, ec).as_object().size();
  });
  std::printf("%s (%zu bytes): %.2f us per answer; BASELINE boost::json::parse (default resource, no fields read) "
              "%.2f us; ratio %.2f\n",
              what, text.size(), mine, plain, mine / plain);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "tests/fuzz/corpus/fuzz_engine_json/podman_inspect_health.json";
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string inspect = buffer.str();
  if (!in || inspect.empty() || !parse_inspect(inspect).ok()) {
    std::fprintf(stderr, "bench_engine_inspect: %s is no container inspect\n", path.c_str());
    return 2;
  }
  // A die event as Podman 4.3 writes it on /events (its attributes carry the labels).
  const std::string event =
      R"({"status":"died","id":"5f3bd7a1c0e94e1f8a0f5c4b1f7b6f2a9d7e3c1b0a8f6e4d2c0b9a7f5e3d1c0b","from":"localhost/busybox:latest",)"
      R"("Type":"container","Action":"died","Actor":{"ID":"5f3bd7a1c0e94e1f8a0f5c4b1f7b6f2a9d7e3c1b0a8f6e4d2c0b9a7f5e3d1c0b",)"
      R"("Attributes":{"containerExitCode":"137","healthsweep.target":"c-417","image":"localhost/busybox:latest",)"
      R"("name":"c-417","podId":""}},"scope":"local","time":1796508935,"timeNano":1796508935123456789})";
  if (!parse_event_line(event).ok()) {
    std::fprintf(stderr, "bench_engine_inspect: the sample event does not parse\n");
    return 2;
  }
  compare("parse_inspect", inspect, rounds, [](const std::string& t) { return parse_inspect(t).ok(); });
  compare("parse_event_line", event, rounds, [](const std::string& t) { return parse_event_line(t).ok(); });
  return 0;
}
