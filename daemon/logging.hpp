// spdlog set up for a service: one line per record on stderr (journald takes
// it from there), `text` for people or `json` (one object per line) for
// journald/Loki pipelines.
//
// Off the event loop (issue 15): a log call formats the message and puts it
// in a bounded queue; one worker thread writes the queue to stderr. A stderr
// that is slow or not read at all (journald backed up, `| less`) stalls that
// worker, never the caller: when the queue is full the oldest queued line
// gives way and is counted (healthsweep_log_lines_dropped_total).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <spdlog/formatter.h>

#include "config/config.hpp"
#include "daemon/log_limit.hpp"

namespace healthsweep::daemon {

// Lines the queue holds while stderr is not read (about 0.4 KiB each).
inline constexpr std::size_t log_queue_lines = 8192;

// First call: starts the worker and makes its logger the default one. Later
// calls (SIGHUP) change only the level and the format.
void setup_logging(config::LogLevel level, config::LogFormat format);

// The formatter of one line (UTC, millisecond timestamps; `json`: one object
// with ts, level, msg). Exposed for the tests and the benchmark's baseline.
std::unique_ptr<spdlog::formatter> log_formatter(config::LogFormat format);

// Lines dropped since the start because the queue was full. Any thread.
std::uint64_t log_lines_dropped();

// Waits until every line logged before the call is written (at most
// `limit`; false when stderr did not take them in time). Before READY=1, so
// that the journal shows the startup lines ("listening on ...") before
// systemd's "Started".
bool flush_logging(std::chrono::milliseconds limit = std::chrono::seconds(1));

// Writes every queued line and stops the worker; then logging goes straight
// to stderr (synchronously), so lines logged later, and whatever main prints
// itself, come after every queued one. Waits at most `limit` for a stderr
// nobody reads (the exit must fit the unit's TimeoutStopSec=15s after a 10 s
// shutdown_grace); false when it gave up. Call it on every exit path once
// setup_logging has run; a second call does nothing.
bool shutdown_logging(std::chrono::milliseconds limit = std::chrono::seconds(3));

// When to say that lines were dropped: fed the drop count every tick, it
// answers with the number to report once the count has stopped growing for a
// tick (while stderr is still stuck the line would only be dropped itself),
// at most once a second.
class DroppedLinesNotice {
 public:
  using clock = LogEverySecond::clock;
  // 0: nothing to say now.
  std::uint64_t observe(std::uint64_t dropped_total, clock::time_point now);

 private:
  std::uint64_t last_seen_ = 0;
  std::uint64_t reported_ = 0;
  LogEverySecond limit_;
};

}  // namespace healthsweep::daemon
