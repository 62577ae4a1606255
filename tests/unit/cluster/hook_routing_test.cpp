// Which instance answers a hook report (issue 14): the owner checks it; a
// non-owner forwards it once; a forwarded report never travels on.
#include "cluster/hook_routing.hpp"

#include <gtest/gtest.h>

namespace healthsweep::cluster {
namespace {

HookSituation owned_by(std::string_view owner, bool forwarded = false) {
  HookSituation s;
  s.known = true;
  s.owner = owner;
  s.forwarded = forwarded;
  return s;
}

TEST(HookRouting, AnOwnedTargetIsJudgedHereForwardedOrNot) {
  HookSituation s = owned_by("host-a");
  s.owned_here = true;
  EXPECT_EQ(route_hook(s), HookRoute::judge_here);
  s.forwarded = true;
  EXPECT_EQ(route_hook(s), HookRoute::judge_here) << "a peer forwarded it to its owner: checked once, here";
}

TEST(HookRouting, ATargetOwnedByAPeerIsForwardedOnce) {
  EXPECT_EQ(route_hook(owned_by("host-b")), HookRoute::forward);
  EXPECT_EQ(route_hook(owned_by("host-b", true)), HookRoute::name_owner)
      << "two instances that disagree on the owner for a moment must not bounce it";
}

TEST(HookRouting, AKnownTargetWithoutALiveOwnerIsNeitherForwardedNorJudged) {
  EXPECT_EQ(route_hook(owned_by("")), HookRoute::no_owner);
  EXPECT_EQ(route_hook(owned_by("", true)), HookRoute::no_owner);
}

TEST(HookRouting, AnUnknownTargetIsUnknownWhoeverSentIt) {
  HookSituation s;
  EXPECT_EQ(route_hook(s), HookRoute::unknown);
  s.forwarded = true;
  EXPECT_EQ(route_hook(s), HookRoute::unknown);
  s.owner = "host-b";  // an owner without a source naming it: still not a target here
  EXPECT_EQ(route_hook(s), HookRoute::unknown);
}

}  // namespace
}  // namespace healthsweep::cluster
