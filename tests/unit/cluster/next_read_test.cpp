// The renew loop's next read: at renew_every while every peer renews, just
// past the earliest live peer's expiry when that comes first.
#include <gtest/gtest.h>

#include <vector>

#include "cluster/next_read.hpp"

namespace healthsweep::cluster {
namespace {

using std::chrono::milliseconds;

Member member(const std::string& id, std::int64_t expires_in_ms) {
  Member m;
  m.instance_id = id;
  m.expires_in_ms = expires_in_ms;
  m.live = expires_in_ms > 0;
  return m;
}

TEST(NextRead, AtRestEveryPeersLeaseOutlastsTheNextRenewal) {
  // lease 3 s, renew 1 s: a peer's lease is at least 2 s ahead at any read.
  const std::vector<Member> ms{member("a", 3000), member("b", 1990), member("c", 2500)};
  EXPECT_EQ(next_read_after(ms, "a", milliseconds(1000)), milliseconds(1000));
}

TEST(NextRead, APeerWhoseLeaseRunsOutFirstIsReadJustPastItsExpiry) {
  const std::vector<Member> ms{member("a", 3000), member("b", 640), member("c", 2000)};
  EXPECT_EQ(next_read_after(ms, "a", milliseconds(1000)), milliseconds(640) + past_expiry);
  const std::vector<Member> two_dying{member("a", 3000), member("b", 640), member("c", 300)};
  EXPECT_EQ(next_read_after(two_dying, "a", milliseconds(1000)), milliseconds(300) + past_expiry);
}

TEST(NextRead, ItsOwnRowAndExpiredRowsAreLeftOut) {
  // Its own row (as read before its renewal) and a dead member's row, which
  // stays in the table with its expiry in the past.
  const std::vector<Member> ms{member("a", 100), member("dead", -60000), member("c", 2200)};
  EXPECT_EQ(next_read_after(ms, "a", milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(next_read_after({}, "a", milliseconds(2000)), milliseconds(2000));
}

TEST(NextRead, AnExpiryAboutToPassIsReadNoSoonerThanTheMinimumGap) {
  const std::vector<Member> ms{member("a", 3000), member("b", 1)};
  EXPECT_EQ(next_read_after(ms, "a", milliseconds(1000)), min_read_gap);
}

}  // namespace
}  // namespace healthsweep::cluster
