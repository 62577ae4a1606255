// drain_in_stretches / release_in_stretches: a big container is freed a
// stretch at a time, one handler per stretch, and nothing is lost or kept.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <map>
#include <unordered_map>
#include <vector>

#include "sweeps/proactive/release_in_stretches.hpp"

namespace healthsweep::sweeps::proactive {
namespace {

// Counts its own destructions (moved-from shells do not count).
struct Counted {
  explicit Counted(int* d) : destroyed(d) {}
  Counted(Counted&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  Counted& operator=(Counted&& o) noexcept {
    destroyed = std::exchange(o.destroyed, nullptr);
    return *this;
  }
  ~Counted() {
    if (destroyed) ++*destroyed;
  }
  int* destroyed;
};

// Runs `io` a handler at a time; the most elements one handler destroyed.
int most_destroyed_per_handler(boost::asio::io_context& io, const int& destroyed) {
  int most = 0;
  for (;;) {
    const int before = destroyed;
    if (io.run_one() == 0) break;
    most = std::max(most, destroyed - before);
  }
  return most;
}

TEST(ReleaseInStretches, AVectorIsFreedAStretchPerHandlerAndWhole) {
  boost::asio::io_context io;
  int destroyed = 0;
  std::vector<Counted> v;
  for (int i = 0; i < 1000; ++i) v.emplace_back(&destroyed);
  release_in_stretches(io.get_executor(), std::move(v), 64);
  EXPECT_TRUE(v.empty()) << "taken from the caller at once";  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(destroyed, 0) << "off the loop's thread: nothing runs until the loop does";
  const int most = most_destroyed_per_handler(io, destroyed);
  EXPECT_EQ(destroyed, 1000);
  EXPECT_LE(most, 64);
  EXPECT_GE(most, 1);
}

TEST(ReleaseInStretches, AMapIsDrainedInStretchesAndKeepsItsBuckets) {
  boost::asio::io_context io;
  int destroyed = 0;
  std::unordered_map<int, Counted> m;
  for (int i = 0; i < 1000; ++i) m.emplace(i, Counted(&destroyed));
  const auto buckets = m.bucket_count();
  bool drained = false;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    co_await drain_in_stretches(m, 100);
    drained = true;
  }, boost::asio::detached);
  const int most = most_destroyed_per_handler(io, destroyed);
  EXPECT_TRUE(drained);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(destroyed, 1000);
  EXPECT_LE(most, 100);
  EXPECT_EQ(m.bucket_count(), buckets) << "refilled next sweep without rehashing";
}

TEST(ReleaseInStretches, NoStretchSizeMeansAllAtOnce) {
  boost::asio::io_context io;
  int destroyed = 0;
  std::map<int, Counted> m;
  for (int i = 0; i < 300; ++i) m.emplace(i, Counted(&destroyed));
  release_in_stretches(io.get_executor(), std::move(m), 0);
  EXPECT_EQ(most_destroyed_per_handler(io, destroyed), 300) << "the benchmark's baseline: one handler";
}

}  // namespace
}  // namespace healthsweep::sweeps::proactive
