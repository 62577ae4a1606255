#include "store/spool_sync.hpp"

#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace healthsweep::store {

int SpoolSync::fdatasync_fd(int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; }

SpoolSync::SpoolSync(boost::asio::any_io_executor loop, std::function<void(int)> failed, FlushFd flush_fd)
    : loop_(std::move(loop)),
      failed_(std::move(failed)),
      flush_fd_(std::move(flush_fd)),
      thread_([this] { run(); }) {}

SpoolSync::~SpoolSync() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();  // run() syncs and closes whatever is pending before it returns
}

void SpoolSync::request(int fd, std::uint64_t file) {
  {
    std::lock_guard lock(mu_);
    ++requested_;
    if (pending_fd_ >= 0 && pending_file_ == file) return;  // that sync will cover these lines
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      // No descriptor to spare: sync here, on the loop, rather than not at all.
      const int error = flush_fd_(fd);
      completed_ = requested_;  // older files were synced by the rewrite that replaced them
      synced_.notify_all();
      if (error) boost::asio::post(loop_, [f = failed_, error] { f(error); });
      return;
    }
    // A sync pending for an older file is dropped: that file was replaced by
    // a rewrite, which is synced itself before its rename.
    if (pending_fd_ >= 0) ::close(pending_fd_);
    pending_fd_ = copy;
    pending_file_ = file;
  }
  wake_.notify_one();
}

void SpoolSync::flush() {
  std::unique_lock lock(mu_);
  const auto target = requested_;
  synced_.wait(lock, [&] { return completed_ >= target; });
}

void SpoolSync::run() {
  ::pthread_setname_np(::pthread_self(), "hs-spool-sync");  // for top -H, /proc/PID/task
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || pending_fd_ >= 0; });
    if (pending_fd_ < 0) return;  // stopping, nothing left to flush
    const int fd = pending_fd_;
    const auto covered = requested_;  // every request so far wrote before this sync starts
    pending_fd_ = -1;
    lock.unlock();
    const int error = flush_fd_(fd);
    ::close(fd);
    ++syncs_;
    if (error) boost::asio::post(loop_, [f = failed_, error] { f(error); });
    lock.lock();
    completed_ = std::max(completed_, covered);
    synced_.notify_all();
  }
}

}  // namespace healthsweep::store
