// Test support: a unix-socket proxy in front of the engine API that counts
// the requests passing through it ("the engine side" of a test): the daemon
// talks to the proxy's socket, the proxy to the real engine. Runs on its own
// thread and io_context; stops and joins on destruction.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace healthsweep::testing {

class RecordingProxy {
 public:
  // forward_events = false: requests for /events are swallowed (the
  // connection stays open, nothing comes back), so a test sees what the
  // daemon does without the engine's event stream.
  // answer_delay: each answer (the event stream's excepted) is held this
  // long before it is passed on, so requests the daemon sends at once are
  // seen in flight together however fast the engine answers.
  RecordingProxy(const std::string& listen_path, const std::string& engine_path,
                 bool forward_events = true, std::chrono::milliseconds answer_delay = {});
  ~RecordingProxy();
  RecordingProxy(const RecordingProxy&) = delete;
  RecordingProxy& operator=(const RecordingProxy&) = delete;

  const std::string& path() const;
  // Request lines seen so far that contain `needle` (e.g. "/containers/ws-1/json").
  int count(const std::string& needle) const;
  // The most requests (the event stream's excepted) that were on their way
  // at once: sent on to the engine, their answer not yet begun.
  int max_in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::testing
