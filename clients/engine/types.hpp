// Values the container-engine client hands out: results with clear error
// messages, and the few fields of containers and events the daemon uses.
// No Asio here: layers and tests include this without the network headers.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <type_traits>

namespace healthsweep::clients::engine {

// Errors of the engine's answer (the engine was reached). Transport errors
// (connect refused, no such socket, timeout) keep their system error_code.
enum class EngineErrc {
  bad_response = 1,  // not HTTP/JSON we understand
  not_found,         // 404: no such container
  conflict,          // 409
  bad_request,       // 400
  server_error,      // 5xx
  http_error,        // any other non-success status
};

const boost::system::error_category& engine_category() noexcept;
boost::system::error_code make_error_code(EngineErrc e) noexcept;

}  // namespace healthsweep::clients::engine

template <>
struct boost::system::is_error_code_enum<healthsweep::clients::engine::EngineErrc> : std::true_type {};

namespace healthsweep::clients::engine {

// Common part of every result. `error` is one line for logs and reasons:
// "engine: connect /run/x.sock: No such file or directory",
// "engine: inspect ws-9: 404 no container with name or ID \"ws-9\" found".
struct EngineStatus {
  boost::system::error_code ec;
  std::string error;
  unsigned http_status = 0;  // 0 when the engine never answered

  bool ok() const { return !ec; }
  // The engine answered (any HTTP status). !ok() && !answered() means the
  // engine is unreachable or too slow: evidence about the engine, not the target.
  bool answered() const { return http_status != 0; }
  bool not_found() const { return ec == EngineErrc::not_found; }
};

template <class T>
struct EngineResult : EngineStatus {
  using value_type = T;
  T value{};
};

template <>
struct EngineResult<void> : EngineStatus {
  using value_type = void;
};

// One entry of GET /containers/json.
struct ContainerSummary {
  std::string id;
  std::string name;    // without the leading '/'
  std::string state;   // running, exited, created, restarting, paused, dead, ...
  std::string status;  // the engine's human text: "Up 5 minutes (unhealthy)"
  std::string health;  // healthy | unhealthy | starting | "" (no health check, or not reported)
  std::map<std::string, std::string> labels;
};

// GET /containers/{id}/json, the fields that decide liveness.
struct ContainerInfo {
  std::string id;
  std::string name;    // without the leading '/'
  std::string status;  // State.Status
  bool running = false;
  bool restarting = false;
  bool oom_killed = false;
  std::string health;  // State.Health.Status, "" without a health check
  int failing_streak = 0;
  int restart_count = 0;
  int exit_code = 0;
  int pid = 0;  // State.Pid: the main process, as the engine's PID namespace numbers it; 0 when not running
  std::string started_at;   // RFC 3339 as the engine wrote it
  std::string finished_at;  // "0001-01-01T00:00:00Z" when never finished
  std::string error;        // State.Error
  std::map<std::string, std::string> labels;  // Config.Labels
};

// One object of the GET /events stream.
struct EngineEvent {
  std::string type;    // container, image, ...
  std::string action;  // die, oom, kill, stop, start, health_status, destroy, create, exec_start, ...
                       // (Docker's "health_status: unhealthy" is split into action + health)
  std::string id;
  std::string name;    // Actor.Attributes.name
  std::string health;  // for health_status: healthy | unhealthy | starting
  std::optional<int> exit_code;  // Attributes exitCode (Docker) / containerExitCode (Podman)
  std::map<std::string, std::string> attributes;  // includes the container's labels
  std::chrono::system_clock::time_point time{};   // from timeNano (or time)
};

struct EnginePing {
  std::string api_version;  // Api-Version header
  std::string server;       // Server header, e.g. "Libpod/4.3.1 (linux)"
};

// GET /info, what tells engines apart: the engine's own ID and the name of
// its host. Two daemons on one engine read the same; two hosts differ.
// Docker's ID is fixed for the engine's installation; Podman's compat API
// makes up a new UUID at every call (seen here with Podman 4.3), so
// EngineClient::identity() asks twice and, when the IDs differ, names the
// engine by its storage root (DockerRootDir) on that host instead.
struct EngineIdentity {
  std::string id;    // "ID", or "root:<DockerRootDir>" when the ID is not stable
  std::string name;  // "Name": the engine host's name
  std::string root;  // "DockerRootDir"
  // "<Name>/<ID>": the locality key of cluster ownership.
  std::string key() const { return name + "/" + id; }
};

}  // namespace healthsweep::clients::engine
