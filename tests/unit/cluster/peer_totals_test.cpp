// live_peer_totals: what the fleet-wide fail-safe adds to this instance's
// own counts, from the member list as read.
#include <gtest/gtest.h>

#include <vector>

#include "cluster/membership.hpp"

namespace healthsweep::cluster {
namespace {

Member member(const std::string& id, bool live, int targets, int offline) {
  Member m;
  m.instance_id = id;
  m.live = live;
  m.targets = targets;
  m.offline = offline;
  return m;
}

TEST(PeerTotals, SumsTheLivePeersAndLeavesOutThisInstanceAndTheExpired) {
  const std::vector<Member> read{member("host-a", true, 10, 1), member("host-b", true, 12, 8),
                                 member("host-c", false, 30, 30), member("host-d", true, 7, 0)};
  const PeerTotals t = live_peer_totals(read, "host-a");
  EXPECT_EQ(t.targets, 19u);
  EXPECT_EQ(t.offline, 8u);
  EXPECT_EQ(t.instances, 2u) << "host-b and host-d; host-c's lease had expired";
}

TEST(PeerTotals, AloneOrBeforeTheFirstReadThereAreNone) {
  const PeerTotals none = live_peer_totals({}, "host-a");
  EXPECT_EQ(none.instances, 0u);
  EXPECT_EQ(none.targets, 0u);
  const PeerTotals alone = live_peer_totals({member("host-a", true, 10, 9)}, "host-a");
  EXPECT_EQ(alone.instances, 0u);
  EXPECT_EQ(alone.offline, 0u);
}

TEST(PeerTotals, ANegativeCountFromARowIsReadAsNone) {
  const PeerTotals t = live_peer_totals({member("host-b", true, -1, -5)}, "host-a");
  EXPECT_EQ(t.targets, 0u);
  EXPECT_EQ(t.offline, 0u);
  EXPECT_EQ(t.instances, 1u);
}

}  // namespace
}  // namespace healthsweep::cluster
