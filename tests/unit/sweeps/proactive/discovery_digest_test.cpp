#include "sweeps/proactive/discovery_digest.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace healthsweep::sweeps::proactive {
namespace {

using decide::TargetSpec;

TargetSpec spec(std::string id, std::string container, std::string http = "", bool paused = false) {
  TargetSpec s;
  s.id = std::move(id);
  s.container = std::move(container);
  s.http = std::move(http);
  s.paused = paused;
  return s;
}

std::vector<TargetSpec> fleet() {
  return {spec("a", "ws-a"), spec("b", "ws-b", "http://127.0.0.1:1/h"), spec("c", "ws-c", "", true)};
}

TEST(DiscoveryDigest, IsTheSameForTheSameSetInAnyOrder) {
  auto specs = fleet();
  const auto d = discovery_digest(specs);
  std::reverse(specs.begin(), specs.end());
  EXPECT_EQ(discovery_digest(specs), d);
  std::rotate(specs.begin(), specs.begin() + 1, specs.end());
  EXPECT_EQ(discovery_digest(specs), d);
}

TEST(DiscoveryDigest, ChangesWithEveryFieldDiscoverySets) {
  const auto d = discovery_digest(fleet());
  auto paused = fleet();
  paused[0].paused = true;
  auto http = fleet();
  http[1].http = "http://127.0.0.1:2/h";
  auto container = fleet();
  container[2].container = "ws-c2";
  auto id = fleet();
  id[0].id = "a2";
  for (const auto& changed : {paused, http, container, id}) EXPECT_NE(discovery_digest(changed), d);
}

TEST(DiscoveryDigest, ChangesWhenATargetComesGoesOrIsListedTwice) {
  const auto d = discovery_digest(fleet());
  auto fewer = fleet();
  fewer.pop_back();
  auto more = fleet();
  more.push_back(spec("d", "ws-d"));
  auto twice = fleet();
  twice.push_back(twice[0]);
  EXPECT_NE(discovery_digest(fewer), d);
  EXPECT_NE(discovery_digest(more), d);
  EXPECT_NE(discovery_digest(twice), d);
  EXPECT_NE(discovery_digest({}), d);
}

TEST(DiscoveryDigest, TellsSwappedIdAndContainerApart) {
  EXPECT_NE(discovery_digest({spec("a", "b")}), discovery_digest({spec("b", "a")}));
}

}  // namespace
}  // namespace healthsweep::sweeps::proactive
