// Group commit of the spool (store/spool_sync.hpp): a burst of appends costs
// a few fdatasyncs, not one each, none of them on the caller's thread; flush()
// waits for every line written before it; a failed fdatasync is reported on
// the loop; and the keeper writes every event to the file before keep()
// returns (a killed daemon loses nothing) while syncing them in batches.
#include "store/spool_sync.hpp"

#include "metrics/metrics.hpp"
#include "store/spool.hpp"
#include "store/spool_keeper.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>

namespace healthsweep::store {
namespace {
using healthsweep::testing::read_file;
using healthsweep::testing::TempDir;

Event numbered(int n) {
  Event e;
  e.event_id = "sync-" + std::to_string(n);
  e.target = "ws-" + std::to_string(n);
  e.from_state = "online";
  e.to_state = "offline";
  e.layer = "proactive";
  e.reason = "container exited";
  e.detail_json = "{}";
  return e;
}

// A disk that takes as long as the test wants: the first flush waits until
// open() and then runs the real fdatasync. How many syncs a burst costs
// depends on how fast the disk is against the writer (on tmpfs under ASan
// nearly one per line: CI saw 101 of 1,000), so the tests hold the first sync
// for the whole burst. What they check is the batching itself: a sync
// that waits while another runs gathers every request made meanwhile.
class HeldDisk {
 public:
  SpoolSync::FlushFd flush_fd() {
    return [this](int fd) {
      std::unique_lock lock(mu_);
      opened_.wait(lock, [&] { return open_; });
      return SpoolSync::fdatasync_fd(fd);
    };
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(SpoolSync, ABurstOfAThousandAppendsCostsAtMostTwoSyncs) {
  TempDir dir;
  boost::asio::io_context loop;
  SpoolFile file(dir.file("spool"));
  int failures = 0;
  HeldDisk disk;
  SpoolSync sync(loop.get_executor(), [&](int) { ++failures; }, disk.flush_fd());
  for (int n = 0; n < 1000; ++n) {
    file.write(numbered(n));
    sync.request(file.append_fd(), file.generation());
  }
  disk.open();
  sync.flush();
  // The first request's sync (held) and one more that gathered the other
  // 999; or one alone, when the sync thread woke only after the burst.
  EXPECT_GE(sync.syncs(), 1u);
  EXPECT_LE(sync.syncs(), 2u);
  loop.poll();
  EXPECT_EQ(failures, 0);
  SpoolFile again(dir.file("spool"));
  EXPECT_EQ(again.load().size(), 1000u);
}

TEST(SpoolSync, FlushWithNothingRequestedReturnsAtOnce) {
  boost::asio::io_context loop;
  SpoolSync sync(loop.get_executor(), [](int) {});
  sync.flush();
  EXPECT_EQ(sync.syncs(), 0u);
}

TEST(SpoolSync, AFailedSyncIsReportedOnTheLoopWithItsErrno) {
  // fdatasync on a pipe fails (EINVAL): a stand-in for a disk that cannot
  // flush, through the same path.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  boost::asio::io_context loop;
  std::vector<int> errors;
  {
    SpoolSync sync(loop.get_executor(), [&](int e) { errors.push_back(e); });
    sync.request(fds[1], 1);
    sync.flush();
    EXPECT_TRUE(errors.empty()) << "reported on the loop's thread, not the sync thread";
  }
  loop.run();
  EXPECT_EQ(errors, std::vector<int>{EINVAL});
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(SpoolSync, TheKeeperWritesEachLineBeforeKeepReturnsAndSyncsInBatches) {
  TempDir dir;
  boost::asio::io_context loop;
  metrics::Metrics m("test");
  std::deque<QueuedEvent> queue;
  HeldDisk disk;
  auto keeper =
      std::make_shared<SpoolKeeper>(loop.get_executor(), dir.file("spool"), queue, m, 100000, disk.flush_fd());
  for (int n = 0; n < 500; ++n) {
    QueuedEvent e(numbered(n));
    ASSERT_TRUE(keeper->keep(e));
    queue.push_back(std::move(e));
    // In the file at once (page cache): what a kill -9 now would leave.
    if (n % 100 == 0) {
      SpoolFile reader(dir.file("spool"));
      EXPECT_EQ(reader.load().size(), static_cast<std::size_t>(n + 1));
    }
  }
  disk.open();
  keeper->flush();
  EXPECT_GE(keeper->syncs(), 1u);
  EXPECT_LE(keeper->syncs(), 2u);  // see HeldDisk
  EXPECT_FALSE(keeper->behind());
  keeper->stop();
}

}  // namespace
}  // namespace healthsweep::store
