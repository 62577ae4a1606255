// The engine client's pure parsers, on answers captured from Podman 4.3 and
// on Docker's documented shapes; malformed input must be an error, not a crash.
#include "clients/engine/json.hpp"

#include <gtest/gtest.h>

#include <map>

#include <string>
#include <vector>

using namespace healthsweep::clients::engine;


namespace {

// GET /v1.41/containers/json?all=1 from Podman 4.3.1 (two containers).
constexpr std::string_view podman_list = R"([
{"Id":"68fc4e560a12befa5c65ec7087ad66703e39417d437cdb94265ce7f7e5d436a0","Names":["/eng-probe-2"],
 "Image":"localhost/hs-test:latest","Command":"sleep 100000","Created":1795666071,"Ports":[],"Labels":{},
 "State":"exited","Status":"Exited (137) Less than a second ago","NetworkSettings":{"Networks":null},"Mounts":[],
 "Name":"","Config":null,"NetworkingConfig":null,"Platform":null,"AdjustCPUShares":false},
{"Id":"9f786296b83fcf409bd17e0d8c4953fead68a02b48e78b21bd6a808b996db341","Names":["/eng-probe-1"],
 "Image":"localhost/hs-test:latest","Command":"sleep 100000","Created":1795666071,"Ports":[],
 "Labels":{"healthsweep.target":"p1"},"State":"running","Status":"Up About a minute",
 "NetworkSettings":{"Networks":null},"Mounts":[],"Name":"","Config":null}])";

// Docker's shape: health in the Status text, Labels may be null.
constexpr std::string_view docker_list = R"J([
{"Id":"aaa1","Names":["/ws-1"],"State":"running","Status":"Up 5 minutes (healthy)","Labels":{"healthsweep.target":"ws-1","healthsweep.paused":"true"}},
{"Id":"aaa2","Names":["/ws-2"],"State":"running","Status":"Up 2 hours (unhealthy)","Labels":{"healthsweep.target":"ws-2"}},
{"Id":"aaa3","Names":["/ws-3"],"State":"running","Status":"Up 3 seconds (health: starting)","Labels":null},
{"Id":"aaa4","Names":["/ws-4"],"State":"exited","Status":"Exited (1) 2 minutes ago","Labels":{"n":5}},
{"Id":"aaa5","Names":[],"State":"created","Status":"Created"}])J";

// GET /v1.41/containers/eng-probe-1/json from Podman, trimmed to State/Config.
constexpr std::string_view podman_inspect_unhealthy = R"({
 "Id":"9f786296b83fcf409bd17e0d8c4953fead68a02b48e78b21bd6a808b996db341","Created":"2026-11-26T04:07:51.556015587Z",
 "Path":"sleep","Args":["100000"],
 "State":{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,
  "Pid":7609,"ExitCode":0,"Error":"","StartedAt":"2026-11-26T04:07:51.630982076Z","FinishedAt":"0001-01-01T00:00:00Z",
  "Health":{"Status":"unhealthy","FailingStreak":4,"Log":[{"Start":"2026-11-26T04:07:51.761760752Z",
  "End":"2026-11-26T04:07:51.834315168Z","ExitCode":1,"Output":""}]}},
 "Name":"/eng-probe-1","RestartCount":0,"Driver":"overlay",
 "Config":{"Hostname":"9f786296b83f","Labels":{"healthsweep.target":"p1"},
  "Healthcheck":{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":30000000000,"Timeout":30000000000,"Retries":3}}})";

constexpr std::string_view podman_inspect_exited = R"({
 "Id":"68fc4e560a12befa5c65ec7087ad66703e39417d437cdb94265ce7f7e5d436a0",
 "State":{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,
  "Pid":0,"ExitCode":137,"Error":"","StartedAt":"2026-11-26T04:08:56.633690619Z",
  "FinishedAt":"2026-11-26T04:10:00.154688021Z","Health":{"Status":"","FailingStreak":0,"Log":null}},
 "Name":"/eng-probe-2","RestartCount":0,"Config":{"Labels":{}}})";

// Docker without a health check has no State.Health at all.
constexpr std::string_view docker_inspect = R"({
 "Id":"bbb1","Name":"/ws-7","RestartCount":3,
 "State":{"Status":"restarting","Running":true,"Restarting":true,"OOMKilled":true,"ExitCode":137,
  "Error":"","StartedAt":"2026-01-01T00:00:00Z","FinishedAt":"2026-01-01T00:00:05Z"},
 "Config":{"Labels":{"healthsweep.target":"ws-7"}}})";

constexpr std::string_view podman_die_event =
    R"({"status":"die","id":"9f786296b83fcf409bd17e0d8c4953fead68a02b48e78b21bd6a808b996db341","from":"localhost/hs-test:latest","Type":"container","Action":"die","Actor":{"ID":"9f786296b83fcf409bd17e0d8c4953fead68a02b48e78b21bd6a808b996db341","Attributes":{"containerExitCode":"137","healthsweep.target":"p1","image":"localhost/hs-test:latest","name":"eng-probe-1","podId":""}},"scope":"local","time":1795666098,"timeNano":1795666098105694151})";

constexpr std::string_view podman_health_event =
    R"({"status":"health_status","id":"9f78","from":"localhost/hs-test:latest","Type":"container","Action":"health_status","Actor":{"ID":"9f78","Attributes":{"containerExitCode":"0","healthsweep.target":"p1","name":"eng-probe-1"}},"scope":"local","time":1795666129,"timeNano":1795666129611151171,"HealthStatus":"unhealthy"})";

constexpr std::string_view docker_health_event =
    R"({"status":"health_status: unhealthy","id":"ccc1","from":"busybox","Type":"container","Action":"health_status: unhealthy","Actor":{"ID":"ccc1","Attributes":{"image":"busybox","name":"ws-1","healthsweep.target":"ws-1"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789})";

std::chrono::nanoseconds since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
}

}  // namespace

TEST(EngineJson, PodmanListGivesIdsNamesStatesAndLabels) {
  const auto r = parse_container_list(podman_list);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.size(), 2u);
  EXPECT_EQ(r.value[0].id, "68fc4e560a12befa5c65ec7087ad66703e39417d437cdb94265ce7f7e5d436a0");
  EXPECT_EQ(r.value[0].name, "eng-probe-2");
  EXPECT_EQ(r.value[0].state, "exited");
  EXPECT_EQ(r.value[0].status, "Exited (137) Less than a second ago");
  EXPECT_TRUE(r.value[0].labels.empty());
  EXPECT_EQ(r.value[1].name, "eng-probe-1");
  EXPECT_EQ(r.value[1].state, "running");
  EXPECT_EQ(r.value[1].labels.at("healthsweep.target"), "p1");
  EXPECT_EQ(r.value[1].health, "");  // Podman's compat list does not report health
}

TEST(EngineJson, DockerListTakesHealthFromStatusText) {
  const auto r = parse_container_list(docker_list);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.size(), 5u);
  EXPECT_EQ(r.value[0].health, "healthy");
  EXPECT_EQ(r.value[0].labels.size(), 2u);
  EXPECT_EQ(r.value[1].health, "unhealthy");
  EXPECT_EQ(r.value[2].health, "starting");
  EXPECT_TRUE(r.value[2].labels.empty());
  EXPECT_EQ(r.value[3].health, "");
  EXPECT_TRUE(r.value[3].labels.empty()) << "non-string label values are skipped";
  EXPECT_EQ(r.value[4].name, "");
  EXPECT_EQ(r.value[4].state, "created");
}

// The list is read as it streams in; what it gives is what reading the
// whole document gave: the last of duplicate keys counts, the first element
// of Names if it is a string, Labels' string values, other shapes ignored.
TEST(EngineJson, ListEdgeCasesReadAsTheDocumentSays) {
  const auto r = parse_container_list(R"json([
    {"Id":"a","Names":["/first","/second"],"State":"running","Status":"Up 1 second (healthy)",
     "Labels":{"k":"v","n":5,"k":"w","x":{"y":"z"}},"Mounts":[{"Names":["/no"],"Labels":{"q":"r"}}]},
    {"Id":5,"Id":"b","Names":[7,"/late"],"State":null,"Labels":{"a":"1"},"Labels":{"b":"2"}},
    {"Id":"c","Names":"/not-an-array","Status":["Up"],"Labels":["k","v"],"Names":[],"State":{"Status":"running"}},
    {"Id":"d","Names":[["/nested"],"/x"],"Labels":{"k":"v","k":null},"Status":"Up 2 hours (unhealthy)","Id":"d2"}])json");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.value.size(), 4u);
  EXPECT_EQ(r.value[0].id, "a");
  EXPECT_EQ(r.value[0].name, "first");
  EXPECT_EQ(r.value[0].state, "running");
  EXPECT_EQ(r.value[0].health, "healthy");
  EXPECT_EQ(r.value[0].labels, (std::map<std::string, std::string>{{"k", "w"}}));
  EXPECT_EQ(r.value[1].id, "b");
  EXPECT_EQ(r.value[1].name, "") << "the first element is not a string";
  EXPECT_EQ(r.value[1].state, "");
  EXPECT_EQ(r.value[1].labels, (std::map<std::string, std::string>{{"b", "2"}}));
  EXPECT_EQ(r.value[2].name, "");
  EXPECT_EQ(r.value[2].status, "");
  EXPECT_EQ(r.value[2].state, "");
  EXPECT_TRUE(r.value[2].labels.empty());
  EXPECT_EQ(r.value[3].id, "d2");
  EXPECT_EQ(r.value[3].name, "");
  EXPECT_TRUE(r.value[3].labels.empty()) << "the last k is null";
  EXPECT_EQ(r.value[3].health, "unhealthy");
  // A later duplicate Id that is not a string leaves the entry without one.
  EXPECT_FALSE(parse_container_list(R"([{"Id":"a","Id":1}])").ok());
}

TEST(EngineJson, EmptyListIsOk) {
  const auto r = parse_container_list("[]");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value.empty());
}

TEST(EngineJson, MalformedListsAreErrors) {
  for (std::string_view bad : {"", "[", "{}", "null", "[1]", R"([{"Names":["/x"]}])", R"([{"Id":5}])",
                               "[{\"Id\":\"a\"},", "\xff\xfe"}) {
    const auto r = parse_container_list(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.ec, EngineErrc::bad_response) << bad;
    EXPECT_EQ(r.error.rfind("engine: ", 0), 0u) << r.error;
  }
}

std::vector<std::string> ids_of(const EngineResult<std::vector<ContainerSummary>>& r) {
  std::vector<std::string> ids;
  for (const auto& c : r.value) ids.push_back(c.id + "/" + c.name + "/" + c.state + "/" + c.health);
  return ids;
}

TEST(ContainerListParser, AnySplitOfTheBodyGivesTheSameList) {
  const std::string_view text = docker_list;
  const auto whole = parse_container_list(text);
  ASSERT_TRUE(whole.ok()) << whole.error;
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    ContainerListParser p;
    p.feed(text.substr(0, cut));
    p.feed(text.substr(cut));
    EXPECT_EQ(p.fed(), text.size());
    const auto r = p.finish();
    ASSERT_TRUE(r.ok()) << "cut at " << cut << ": " << r.error;
    EXPECT_EQ(ids_of(r), ids_of(whole)) << "cut at " << cut;
    EXPECT_EQ(r.value[0].labels, whole.value[0].labels);
  }
  ContainerListParser bytes;
  for (char c : text) bytes.feed(std::string_view(&c, 1));
  const auto r = bytes.finish();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(ids_of(r), ids_of(whole));
}

// Only the labels asked for are kept (the daemon reads three of a real
// container's dozen); the rest of each entry is as without the filter.
TEST(ContainerListParser, KeepsOnlyTheLabelsAskedFor) {
  const std::string text = R"json([{"Id":"a1","Names":["/ws-1"],"State":"running","Status":"Up 1 hour",
    "Labels":{"healthsweep.target":"ws-1","com.docker.compose.project":"agents","healthsweep.http":"http://127.0.0.1:1/",
              "org.opencontainers.image.version":"2024.11","healthsweep.paused":null}},
    {"Id":"b2","Names":["/ws-2"],"State":"exited","Status":"Exited (1)","Labels":{"com.example":"x"}}])json";
  const auto all = parse_container_list(text);
  ASSERT_TRUE(all.ok()) << all.error;
  EXPECT_EQ(all.value[0].labels.size(), 4u) << "null is no label";
  for (const std::size_t cut : {std::size_t{0}, text.size() / 3, text.size() / 2}) {
    ContainerListParser p(std::vector<std::string>{"healthsweep.target", "healthsweep.http", "healthsweep.paused"});
    p.feed(std::string_view(text).substr(0, cut));
    p.feed(std::string_view(text).substr(cut));
    const auto r = p.finish();
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(ids_of(r), ids_of(all)) << "cut at " << cut;
    const std::map<std::string, std::string> kept{{"healthsweep.target", "ws-1"},
                                                  {"healthsweep.http", "http://127.0.0.1:1/"}};
    EXPECT_EQ(r.value[0].labels, kept) << "cut at " << cut;
    EXPECT_TRUE(r.value[1].labels.empty());
  }
  ContainerListParser none(std::vector<std::string>{});
  none.feed(text);
  const auto r = none.finish();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.value[0].labels.empty()) << "an empty list keeps no label";
  EXPECT_EQ(ids_of(r), ids_of(all));
}

TEST(ContainerListParser, AnErrorInAnEarlyPieceIsKeptWhateverFollows) {
  ContainerListParser p;
  p.feed("[{\"Id\":\"a\"}x");
  p.feed(",{\"Id\":\"b\"}]");
  const auto r = p.finish();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.ec, EngineErrc::bad_response);
  EXPECT_EQ(r.error.rfind("engine: container list is not JSON", 0), 0u) << r.error;
}

TEST(ContainerListParser, ACutOffBodyOrTrailingBytesAreErrors) {
  ContainerListParser cut;
  cut.feed(podman_list.substr(0, podman_list.size() - 1));
  EXPECT_FALSE(cut.finish().ok());
  ContainerListParser trailing;
  trailing.feed(podman_list);
  trailing.feed("[]");
  EXPECT_FALSE(trailing.finish().ok());
  ContainerListParser nothing;
  EXPECT_FALSE(nothing.finish().ok());
}

TEST(EngineJson, InspectReadsPodmanHealth) {
  const auto r = parse_inspect(podman_inspect_unhealthy);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.name, "eng-probe-1");
  EXPECT_EQ(r.value.status, "running");
  EXPECT_TRUE(r.value.running);
  EXPECT_EQ(r.value.health, "unhealthy");
  EXPECT_EQ(r.value.failing_streak, 4);
  EXPECT_EQ(r.value.pid, 7609);
  EXPECT_EQ(r.value.started_at, "2026-11-26T04:07:51.630982076Z");
  EXPECT_EQ(r.value.labels.at("healthsweep.target"), "p1");
}

TEST(EngineJson, InspectReadsExitedContainer) {
  const auto r = parse_inspect(podman_inspect_exited);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.status, "exited");
  EXPECT_FALSE(r.value.running);
  EXPECT_EQ(r.value.exit_code, 137);
  EXPECT_EQ(r.value.pid, 0);
  EXPECT_EQ(r.value.health, "");
  EXPECT_EQ(r.value.finished_at, "2026-11-26T04:10:00.154688021Z");
}

TEST(EngineJson, InspectWithoutHealthCheckHasEmptyHealth) {
  const auto r = parse_inspect(docker_inspect);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.name, "ws-7");
  EXPECT_EQ(r.value.health, "");
  EXPECT_EQ(r.value.restart_count, 3);
  EXPECT_TRUE(r.value.restarting);
  EXPECT_TRUE(r.value.oom_killed);
}

TEST(EngineJson, MalformedInspectIsError) {
  for (std::string_view bad : {"", "[]", "{", R"({"Id":"x"})", R"({"State":{}})", R"({"Id":"x","State":3})"}) {
    const auto r = parse_inspect(bad);
    EXPECT_EQ(r.ec, EngineErrc::bad_response) << bad;
  }
  // Out-of-range numbers are clamped, not undefined behaviour.
  const auto r = parse_inspect(R"({"Id":"x","RestartCount":1e300,"State":{"ExitCode":18446744073709551615}})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.exit_code, std::numeric_limits<int>::max());
}

TEST(EngineJson, PodmanDieEvent) {
  const auto r = parse_event_line(podman_die_event);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.type, "container");
  EXPECT_EQ(r.value.action, "die");
  EXPECT_EQ(r.value.id, "9f786296b83fcf409bd17e0d8c4953fead68a02b48e78b21bd6a808b996db341");
  EXPECT_EQ(r.value.name, "eng-probe-1");
  EXPECT_EQ(r.value.exit_code, 137);
  EXPECT_EQ(r.value.attributes.at("healthsweep.target"), "p1");
  EXPECT_EQ(since_epoch(r.value.time).count(), 1795666098105694151);
}

TEST(EngineJson, PodmanHealthEventUsesHealthStatusField) {
  const auto r = parse_event_line(podman_health_event);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.action, "health_status");
  EXPECT_EQ(r.value.health, "unhealthy");
}

TEST(EngineJson, DockerHealthEventSplitsAction) {
  const auto r = parse_event_line(docker_health_event);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.action, "health_status");
  EXPECT_EQ(r.value.health, "unhealthy");
  EXPECT_EQ(r.value.name, "ws-1");
  EXPECT_FALSE(r.value.exit_code.has_value());
  EXPECT_EQ(since_epoch(r.value.time).count(), 1700000000123456789);
}

TEST(EngineJson, EventDetailsAfterColonAreDropped) {
  const auto r = parse_event_line(
      R"({"Type":"container","Action":"exec_start: sh -c echo","Actor":{"ID":"d1","Attributes":{"exitCode":"2"}},"time":1700000001})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.action, "exec_start");
  EXPECT_EQ(r.value.health, "");
  EXPECT_EQ(r.value.exit_code, 2);
  EXPECT_EQ(since_epoch(r.value.time), std::chrono::seconds(1700000001));
}

TEST(EngineJson, OldEventFormatWithOnlyStatus) {
  const auto r = parse_event_line(R"({"status":"stop","id":"e1","from":"busybox","time":1})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.action, "stop");
  EXPECT_EQ(r.value.id, "e1");
}

TEST(EngineJson, MalformedEventsAreErrors) {
  for (std::string_view bad : {"", "{", "[]", R"({"Type":"container"})", R"({"Action":""})", "{\"Action\":\"die\"}x",
                               R"({"Action":"die","time":99999999999999999999})"}) {
    const auto r = parse_event_line(bad);
    if (bad == R"({"Action":"die","time":99999999999999999999})") {
      EXPECT_TRUE(r.ok()) << "an absurd time is clamped: " << r.error;
      continue;
    }
    EXPECT_EQ(r.ec, EngineErrc::bad_response) << bad;
  }
}

// fuzz_engine_json (tests/fuzz/corpus/fuzz_engine_json/crash_action_only_details):
// an action that is all details (": starting)") was cut to an empty action
// and handed on as an event.
TEST(EngineJson, AnActionThatIsOnlyDetailsIsNoAction) {
  for (std::string_view line : {R"j({"status":": starting)","Labels":null})j", R"({"Action":": x","Type":"container"})"}) {
    const auto r = parse_event_line(line);
    EXPECT_EQ(r.ec, EngineErrc::bad_response) << line;
    EXPECT_EQ(r.error, "engine: event without Action") << line;
  }
}

TEST(EngineJson, HealthFromStatusText) {
  EXPECT_EQ(health_from_status_text("Up 5 minutes (healthy)"), "healthy");
  EXPECT_EQ(health_from_status_text("Up 5 minutes (unhealthy)"), "unhealthy");
  EXPECT_EQ(health_from_status_text("Up 1 second (health: starting)"), "starting");
  EXPECT_EQ(health_from_status_text("Up 5 minutes"), "");
  EXPECT_EQ(health_from_status_text("Exited (0) 1 hour ago"), "");
  EXPECT_EQ(health_from_status_text(""), "");
}

TEST(EngineJson, ErrorMessageFromBody) {
  EXPECT_EQ(engine_error_message(
                R"({"cause":"no such container","message":"no container with name or ID \"x\" found: no such container","response":404})"),
            "no container with name or ID \"x\" found: no such container");
  EXPECT_EQ(engine_error_message("page not found\n"), "page not found");
  EXPECT_EQ(engine_error_message(""), "");
  EXPECT_EQ(engine_error_message(std::string(1000, 'x')).size(), 203u);
}

TEST(EventLineBuffer, SplitsLinesAcrossChunks) {
  EventLineBuffer buffer;
  std::vector<std::string> lines;
  const auto collect = [&](std::string_view l) { lines.emplace_back(l); };
  buffer.feed("{\"a\":1}\n{\"b\"", collect);
  EXPECT_EQ(lines, std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(buffer.buffered(), 4u);
  buffer.feed(":2}\r\n\n{\"c\":3}\n", collect);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_EQ(buffer.buffered(), 0u);
}

TEST(EventLineBuffer, ByteAtATimeGivesTheSameLines) {
  const std::string stream = std::string(podman_die_event) + "\n" + std::string(docker_health_event) + "\n";
  EventLineBuffer buffer;
  std::vector<std::string> lines;
  for (char c : stream) buffer.feed(std::string_view(&c, 1), [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], podman_die_event);
  EXPECT_TRUE(parse_event_line(lines[1]).ok());
}

TEST(EventLineBuffer, OversizedLineIsDroppedAndTheNextOneKept) {
  EventLineBuffer buffer(16);
  std::vector<std::string> lines;
  const auto collect = [&](std::string_view l) { lines.emplace_back(l); };
  buffer.feed("0123456789", collect);
  buffer.feed("0123456789", collect);  // over 16 without a newline: dropped
  EXPECT_EQ(buffer.buffered(), 0u);
  buffer.feed("still the long line\nshort\n", collect);
  EXPECT_EQ(lines, std::vector<std::string>{"short"});
  EXPECT_EQ(buffer.oversized_lines(), 1u);
}

namespace healthsweep::clients::engine {
namespace {

TEST(EngineJson, IdentityIsTheEnginesIdAndItsHostsName) {
  const auto r = parse_identity(R"({"ID":"7TRN:IPZB","Name":"host-1","DockerRootDir":"/var/lib/docker"})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.id, "7TRN:IPZB");
  EXPECT_EQ(r.value.name, "host-1");
  EXPECT_EQ(r.value.root, "/var/lib/docker");
  EXPECT_EQ(r.value.key(), "host-1/7TRN:IPZB");
  EXPECT_FALSE(parse_identity(R"({"Containers":3})").ok()) << "nothing that tells engines apart";
  EXPECT_FALSE(parse_identity("[]").ok());
  EXPECT_FALSE(parse_identity("{").ok());
}

}  // namespace
}  // namespace healthsweep::clients::engine
