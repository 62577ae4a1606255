// Group commit for the spool: the fdatasync of appended lines, off the event
// loop. The loop still write(2)s each line itself, into the page cache, so a
// killed or crashed daemon loses nothing; what waits here is only the flush
// to the disk, which a power cut would need. One fdatasync covers every line
// written before it began, so a burst of N events costs about two syncs, not
// N on the loop (the soak measured 10,000 startup transitions holding the
// loop 22-33 s, one fdatasync each).
// One thread of its own, like Asio's resolver thread; at most one sync runs
// and at most one waits. Results come back on the loop's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace healthsweep::store {

class SpoolSync {
 public:
  // Flushes one descriptor to the disk: 0 or an errno. fdatasync(2) unless a
  // test holds the sync thread inside it (the only way to make the batching
  // it measures independent of how fast this machine's disk is).
  using FlushFd = std::function<int(int fd)>;
  static int fdatasync_fd(int fd);

  // failed(errno) runs on `loop` after a failed flush (0 is never reported).
  SpoolSync(boost::asio::any_io_executor loop, std::function<void(int error)> failed,
            FlushFd flush_fd = fdatasync_fd);
  ~SpoolSync();  // flushes what is pending, then joins
  SpoolSync(const SpoolSync&) = delete;
  SpoolSync& operator=(const SpoolSync&) = delete;

  // Lines were written to `fd` (generation `file`: which open of the spool it
  // is). Cheap when a sync of that generation is already waiting.
  void request(int fd, std::uint64_t file);
  // Blocks until every line written before the call is on disk (shutdown,
  // tests).
  void flush();
  std::uint64_t syncs() const { return syncs_.load(); }  // fdatasyncs run so far

 private:
  void run();

  boost::asio::any_io_executor loop_;
  std::function<void(int)> failed_;
  FlushFd flush_fd_;
  std::mutex mu_;
  std::condition_variable wake_, synced_;
  int pending_fd_ = -1;  // a dup: the loop may close its own meanwhile
  std::uint64_t pending_file_ = 0;
  std::uint64_t requested_ = 0, completed_ = 0;  // request counts: flush() waits for one
  bool stopping_ = false;
  std::atomic<std::uint64_t> syncs_{0};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace healthsweep::store
