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

#include <deque>

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

TEST(SpoolSync, ABurstOfAThousandAppendsCostsFarFewerSyncs) {
  TempDir dir;
  boost::asio::io_context loop;
  SpoolFile file(dir.file("spool"));
  int failures = 0;
  SpoolSync sync(loop.get_executor(), [&](int) { ++failures; });
  for (int n = 0; n < 1000; ++n) {
    file.write(numbered(n));
    sync.request(file.append_fd(), file.generation());
  }
  sync.flush();
  EXPECT_GE(sync.syncs(), 1u);
  // One sync runs while the next waits and gathers every request meanwhile:
  // the count depends on the disk, never on the number of lines.
  EXPECT_LT(sync.syncs(), 100u);
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
  std::deque<Event> queue;
  auto keeper = std::make_shared<SpoolKeeper>(loop.get_executor(), dir.file("spool"), queue, m, 100000);
  for (int n = 0; n < 500; ++n) {
    ASSERT_TRUE(keeper->keep(numbered(n)));
    queue.push_back(numbered(n));
    // In the file at once (page cache): what a kill -9 now would leave.
    if (n % 100 == 0) {
      SpoolFile reader(dir.file("spool"));
      EXPECT_EQ(reader.load().size(), static_cast<std::size_t>(n + 1));
    }
  }
  keeper->flush();
  EXPECT_LT(keeper->syncs(), 100u);
  EXPECT_FALSE(keeper->behind());
  keeper->stop();
}

}  // namespace
}  // namespace healthsweep::store
