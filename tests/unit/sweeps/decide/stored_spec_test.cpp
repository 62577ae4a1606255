// StoredSpec: what a record keeps of its TargetSpec, the checks behind one
// pointer that only targets with a check pay for.
#include "sweeps/decide/target.hpp"

#include <gtest/gtest.h>

namespace healthsweep::sweeps::decide {
namespace {

TargetSpec spec_with(std::string container, std::string http, std::optional<config::Endpoint> tcp,
                     std::string instance) {
  TargetSpec s;
  s.id = "ws-1";
  s.paused = true;
  s.on_engine = true;
  s.container = std::move(container);
  s.http = std::move(http);
  s.tcp = std::move(tcp);
  s.instance = std::move(instance);
  return s;
}

void expect_same(const TargetSpec& a, const TargetSpec& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.paused, b.paused);
  EXPECT_EQ(a.on_engine, b.on_engine);
  EXPECT_EQ(a.container, b.container);
  EXPECT_EQ(a.http, b.http);
  EXPECT_EQ(a.tcp, b.tcp);
  EXPECT_EQ(a.instance, b.instance);
}

TEST(StoredSpec, KeepsEveryFieldOfTheSpecItWasMadeFrom) {
  const config::Endpoint ep{"127.0.0.1", 8080};
  for (const auto& s : {spec_with("", "", std::nullopt, ""), spec_with("c-1", "", std::nullopt, ""),
                        spec_with("", "http://127.0.0.1:1/h", std::nullopt, ""), spec_with("", "", ep, ""),
                        spec_with("", "", std::nullopt, "node-b"), spec_with("c-1", "http://x/", ep, "node-b")}) {
    const StoredSpec stored(s);
    expect_same(stored.full(), s);
    EXPECT_EQ(stored.probed(), s.probed());
    EXPECT_EQ(stored.checkable(), s.checkable());
    EXPECT_EQ(stored.container(), s.container);
  }
}

TEST(StoredSpec, SetChecksReplacesTheChecksAndKeepsTheInstance) {
  StoredSpec stored(spec_with("c-1", "http://x/", config::Endpoint{"::1", 1}, "node-b"));
  stored.set_checks(spec_with("", "", std::nullopt, "ignored"));
  expect_same(stored.full(), spec_with("", "", std::nullopt, "node-b"));
  EXPECT_FALSE(stored.checkable());
  stored.set_checks(spec_with("c-2", "", std::nullopt, ""));
  expect_same(stored.full(), spec_with("c-2", "", std::nullopt, "node-b"));

  StoredSpec plain(spec_with("", "", std::nullopt, ""));
  plain.set_checks(spec_with("", "", config::Endpoint{"127.0.0.1", 9}, ""));
  EXPECT_TRUE(plain.probed());
  EXPECT_EQ(plain.tcp(), (config::Endpoint{"127.0.0.1", 9}));
  plain.set_checks(spec_with("", "", std::nullopt, ""));
  EXPECT_FALSE(plain.tcp());
  EXPECT_EQ(plain.http(), "");
  EXPECT_EQ(plain.instance(), "");
}

}  // namespace
}  // namespace healthsweep::sweeps::decide
