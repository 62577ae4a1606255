// The PostgreSQL store (SPEC section 6): durable target state and the event
// log, with a spool file so that no event is lost while PostgreSQL is away.
//
// record() never blocks on the network nor on the disk: the event is
// appended to the spool file (flushed to the disk off the loop, in batches:
// store/spool_sync.hpp) and queued; one writer coroutine on the Asio loop
// writes the queue in order over a non-blocking libpq connection
// (clients/postgres), every waiting event (up to 1,000) in one statement
// (store/event_batch.hpp: insert each event if new, upsert or delete the
// target rows, NOTIFY healthsweep_events). Written events leave the spool; what is
// not written when the process stops is replayed at the next start, and the
// replay duplicates nothing (idempotent by event_id).
// While PostgreSQL is unreachable the writer reconnects with backoff
// (100 ms doubling to 5 s). Liveness subsystem `store` ticks on successful
// writes and pings. An event PostgreSQL itself refuses five times in a row
// (on a live connection) is moved to <spool_dir>/rejected/events.jsonl so it
// cannot block the events after it.
// When the spool file cannot be written (disk full, I/O error), events wait
// in the queue, bounded by memory_cap (store/spool_keeper.hpp).
// Single-threaded: call everything on the loop's thread.
#pragma once

#include "store/event.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace healthsweep::metrics {
class Metrics;
class LivenessRegistry;
}  // namespace healthsweep::metrics

namespace healthsweep::store {

class Store {
 public:
  // dsn: libpq conninfo; spool_dir: created if missing (throws
  // std::runtime_error when it cannot be). Loads what a previous run spooled.
  // Enables liveness subsystem `store` with stale_after. memory_cap bounds
  // the queue while the spool file cannot be written (newer events are
  // dropped and counted beyond it).
  Store(boost::asio::any_io_executor ex, std::string dsn, std::string spool_dir,
        metrics::Metrics& m, metrics::LivenessRegistry& live,
        std::chrono::milliseconds stale_after = std::chrono::seconds(60),
        std::size_t memory_cap = default_memory_cap);
  static constexpr std::size_t default_memory_cap = 100000;
  ~Store();  // stop()s
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Starts the writer: connect, migrate, write the spool, then events as
  // they come. Returns at once. Once stop()ped, a Store does not start again.
  void start();
  // Once connected, after writing what a previous run spooled and before
  // anything of this run: the healthsweep_targets rows (restart count,
  // quarantine, the crash-loop window's restarts), for the state machine to
  // restore. Called once (an empty list when the read failed); never while
  // PostgreSQL is unreachable. Set before start().
  void on_restore(std::function<void(std::vector<TargetRow>)> handler);
  // Several instances (issue 14): no full read at startup (call before
  // start()); instead the rows of `ids`, the targets this instance took
  // over, go to on_restore as soon as PostgreSQL answers (again after an
  // outage), one read per call: ask for each id once.
  void restore_only_asked();
  void restore_rows(std::vector<std::string> ids);
  // Never blocks on the network or the disk, never loses: spool file (written
  // at once, flushed to the disk in batches off the loop) + queue.
  // Fills e.event_id when empty; a detail_json that is not a JSON object is
  // kept as {"raw": "<text>"}.
  void record(Event e);
  std::size_t spooled() const;  // events not yet written
  // fdatasyncs the spool's group commit has run so far (store/spool_sync.hpp;
  // the fsync of a spool rewrite not included): what bench/bench_store.cpp
  // compares with one per event.
  std::uint64_t spool_syncs() const;
  bool healthy() const;         // connected, migrated, last write or ping ok
  // Shutdown: writes what is queued for at most `grace`; the rest stays in
  // the spool file for the next start.
  boost::asio::awaitable<void> drain(std::chrono::milliseconds grace);
  void stop();  // closes the connection; the spool keeps what is unwritten

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace healthsweep::store
