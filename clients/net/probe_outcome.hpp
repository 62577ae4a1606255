// The answer of one network probe (HTTP check, TCP check, webhook call).
// Probes are thin clients: they know nothing about targets or state, they
// only say what happened; turning an outcome into evidence is the caller's job.
#pragma once

#include <chrono>
#include <string>

namespace healthsweep::clients::net {

struct ProbeOutcome {
  bool alive = false;    // HTTP: a 2xx answer; TCP: the connect succeeded; webhook: 2xx
  int http_status = 0;   // 0 when no HTTP response was received
  // One line for people and for the target's `reason`: "HTTP 200", "HTTP 500",
  // "connect: Connection refused", "timeout after 5000 ms",
  // "TLS: certificate verify failed (self-signed certificate)", "url: ...".
  std::string detail;
  std::chrono::steady_clock::duration elapsed{};  // from the start of the probe's own work
};

}  // namespace healthsweep::clients::net
