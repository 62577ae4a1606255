// The spool: events not yet known to be in PostgreSQL, one JSON object per
// line in <spool_dir>/events.jsonl. A line is written before record()
// returns, so an event survives a crash or a restart of the daemon while
// PostgreSQL is down; the store flushes it to the disk (for a power cut)
// shortly after, batched (store/spool_sync.hpp).
// Written events are removed by rewriting the file (temp file + rename), in
// batches: a replayed line is harmless because writes are idempotent by
// event_id. A line torn by a crash is skipped with a warning, never fatal.
#pragma once

#include "store/event.hpp"
#include "store/queued_event.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::store {

// Without the trailing newline.
std::string to_spool_line(const QueuedEvent& e);
std::string to_spool_line(const Event& e);
std::optional<Event> from_spool_line(std::string_view line);

struct SpoolContents {
  std::deque<Event> events;
  std::vector<std::string> warnings;  // one per skipped line
  bool needs_rewrite = false;         // a skipped line or a missing final newline
};
// Parses a whole spool file's text.
SpoolContents parse_spool(std::string_view text);

class SpoolFile {
 public:
  // Creates dir if needed; throws std::runtime_error when it cannot.
  explicit SpoolFile(std::string dir);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;
  const std::string& path() const { return path_; }

  // Reads what a previous run left (warnings logged); rewrites the file when
  // a torn line was skipped, so the next append starts on a clean line.
  std::deque<Event> load();
  // Appends one line and fsyncs. Throws std::runtime_error on I/O failure
  // (disk full, I/O error, RLIMIT_FSIZE), after cutting the file back to
  // where it ended: a failed append leaves no partial line.
  void append(const Event& e);
  // The same without the fsync: the line is in the page cache (a killed
  // process loses nothing); the caller syncs append_fd() later.
  void write(const Event& e);
  void write(const QueuedEvent& e);
  int append_fd() const { return fd_; }
  // Which open of the file append_fd() is: a rewrite replaces the file.
  std::uint64_t generation() const { return generation_; }
  // Empties the file (every spooled event is written). Not fsync'd: should a
  // power cut undo it, the lines replay as no-ops (writes are idempotent by
  // event_id). Throws on I/O failure.
  void clear();
  // Replaces the contents with `events` (atomically: temp file, fsync, rename).
  // On failure the file is unchanged and the temp file removed.
  void rewrite(const std::deque<Event>& events);
  void rewrite(const std::deque<QueuedEvent>& events);

 private:
  std::string dir_, path_;
  int fd_ = -1;  // append descriptor, opened lazily
  std::uint64_t generation_ = 0;
  // The file may end in a partial line (a failed append could not be cut
  // back, or a torn line could not be rewritten away at load).
  bool needs_newline_ = false;
  void close_append();
  void open_append();
  template <class Events>
  void rewrite_from(const Events& events);
};

}  // namespace healthsweep::store
