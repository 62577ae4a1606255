// The spool file as the store keeps it: every queued event on disk, in
// order, and what to do while the file cannot be written (disk full, an I/O
// error, a file size limit). Then appends stop (so the file keeps the
// order), events wait in memory only, bounded by memory_cap (newer events
// beyond it are dropped and counted), and every respool_every the whole
// queue is written to the file again until that works. One error line per
// outage, one info line when it ends; every failed write counts in
// healthsweep_store_spool_write_errors_total.
// Lines are written on the loop and flushed to the disk by SpoolSync (group
// commit, its own thread); a failed flush counts like a failed write.
// Single-threaded: call everything on the loop's thread.
#pragma once

#include "store/event.hpp"
#include "store/spool.hpp"
#include "store/spool_sync.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace healthsweep::metrics {
class Metrics;
}

namespace healthsweep::store {

class SpoolKeeper : public std::enable_shared_from_this<SpoolKeeper> {
 public:
  static constexpr std::chrono::milliseconds respool_every{1000};

  // `queue` is the store's queue (every event not yet written, in order):
  // what compact() writes. Creates dir if needed (throws when it cannot).
  // flush_fd: see SpoolSync (tests only).
  SpoolKeeper(boost::asio::any_io_executor ex, std::string dir, const std::deque<QueuedEvent>& queue,
              metrics::Metrics& m, std::size_t memory_cap,
              SpoolSync::FlushFd flush_fd = SpoolSync::fdatasync_fd);
  const std::string& path() const { return file_.path(); }
  // What a previous run left (see SpoolFile::load).
  std::deque<Event> load() { return file_.load(); }
  // Before e joins the queue: appended to the file, or kept in memory only
  // while the file cannot be written. False: dropped (the queue is full).
  bool keep(const QueuedEvent& e);
  // Writes exactly the queue to the file: written events leave it, and
  // events kept only in memory are on disk again.
  void compact();
  bool behind() const { return behind_; }  // some queued events are only in memory
  // Blocks until every line written so far is on disk (shutdown, tests).
  void flush();
  std::uint64_t syncs() const { return sync_ ? sync_->syncs() : 0; }  // fdatasyncs run
  void stop();  // ends the periodic rewrite

 private:
  void failed(const std::exception& x);
  void works();
  void respool_later();
  void sync_failed(int error);

  SpoolFile file_;
  const std::deque<QueuedEvent>& queue_;
  metrics::Metrics& m_;
  std::size_t memory_cap_;
  boost::asio::steady_timer timer_;
  SpoolSync::FlushFd flush_fd_;
  std::unique_ptr<SpoolSync> sync_;  // made at the first write: it needs weak_from_this()
  bool behind_ = false, failing_ = false, dropping_ = false, respooling_ = false, stopped_ = false;
};

}  // namespace healthsweep::store
