// Pure parsers of the Docker Engine API's JSON (Docker and Podman dialects),
// separate from the network code so they can be unit-tested, fuzzed and
// benchmarked. Malformed input gives an error result, never a crash.
#pragma once

#include "clients/engine/types.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::clients::engine {

// GET /containers/json. Health comes from the Status text where the engine
// puts it there (Docker: "Up 5 minutes (unhealthy)"); Podman's compat API
// does not, see EngineClient::list_with_health.
EngineResult<std::vector<ContainerSummary>> parse_container_list(std::string_view json);

// The same, as the answer arrives: feed() each piece of the body in order
// (split anywhere), then finish() once. No copy of the whole body is ever
// made; each feed() costs about as much as its piece (issue 15: a 10 MB
// list read and parsed in 64 KiB turns of the loop, not one string and one
// parse). Movable, so finish() can run on another thread.
class ContainerListParser {
 public:
  // labels_kept: the only labels whose values the summaries keep (a real
  // container carries a dozen, from its image and compose; the daemon reads
  // three); nullopt keeps every label.
  explicit ContainerListParser(std::optional<std::vector<std::string>> labels_kept = std::nullopt);
  ~ContainerListParser();
  ContainerListParser(ContainerListParser&&) noexcept;
  ContainerListParser& operator=(ContainerListParser&&) noexcept;

  void feed(std::string_view bytes);  // after an error, the rest is ignored
  std::size_t fed() const;            // bytes fed so far
  EngineResult<std::vector<ContainerSummary>> finish();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// GET /containers/{id}/json.
EngineResult<ContainerInfo> parse_inspect(std::string_view json);

// GET /info: ID and Name (both required).
EngineResult<EngineIdentity> parse_identity(std::string_view json);

// One line of the GET /events stream.
EngineResult<EngineEvent> parse_event_line(std::string_view line);

// "healthy", "unhealthy", "starting" or "" from a Docker list Status text.
std::string health_from_status_text(std::string_view status);

// The engine's error text from an error body ({"message": "..."}), or the
// body itself (trimmed, shortened) when it is not that JSON.
std::string engine_error_message(std::string_view body);

// Splits a byte stream into lines as it arrives (the events body is chunked
// and a chunk may end mid-line). Lines longer than max_line are dropped whole
// and counted; '\r' before '\n' and empty lines are skipped.
class EventLineBuffer {
 public:
  explicit EventLineBuffer(std::size_t max_line = 1 << 20) : max_line_(max_line) {}

  template <class OnLine>
  void feed(std::string_view bytes, OnLine&& on_line) {
    while (!bytes.empty()) {
      const auto nl = bytes.find('\n');
      const auto piece = bytes.substr(0, nl);
      if (!skipping_) {
        if (partial_.size() + piece.size() > max_line_) {
          partial_.clear();
          skipping_ = true;
          ++oversized_;
        } else {
          partial_.append(piece);
        }
      }
      if (nl == std::string_view::npos) return;
      bytes.remove_prefix(nl + 1);
      if (!skipping_) {
        std::string_view line = partial_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) on_line(line);
      }
      partial_.clear();
      skipping_ = false;
    }
  }

  std::size_t buffered() const { return partial_.size(); }
  std::size_t oversized_lines() const { return oversized_; }

 private:
  std::size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
  std::size_t oversized_ = 0;
};

}  // namespace healthsweep::clients::engine
