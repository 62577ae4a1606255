#include <gtest/gtest.h>

#include "daemon/hook_body.hpp"

using namespace healthsweep::daemon;

TEST(HookBody, ParsesTheSpecExample) {
  auto r = parse_hook_body(R"({"target":"ws-1","error":"connect ECONNREFUSED","source":"a2a-proxy"})");
  ASSERT_TRUE(std::holds_alternative<HookReport>(r));
  const auto& h = std::get<HookReport>(r);
  EXPECT_EQ(h.target, "ws-1");
  EXPECT_EQ(h.error, "connect ECONNREFUSED");
  EXPECT_EQ(h.source, "a2a-proxy");
}

TEST(HookBody, TargetAloneIsEnoughAndExtraKeysAreIgnored) {
  auto r = parse_hook_body(R"({"target":"ws-2","attempt":3,"error":null})");
  ASSERT_TRUE(std::holds_alternative<HookReport>(r));
  EXPECT_EQ(std::get<HookReport>(r).target, "ws-2");
}

TEST(HookBody, RejectsWhatIsNotAValidReport) {
  for (std::string_view body :
       {"", "{", "[]", "\"ws-1\"", "{}", R"({"target":1})", R"({"target":""})",
        R"({"target":null})", R"({"target":"ws-1","error":5})", R"({"target":"ws-1","source":{}})",
        R"({"target":"ws-1"} trailing)", "{\"target\":\"ws-\xff\"}", "{\"target\":\"\xc3\x28\"}"}) {
    auto r = parse_hook_body(body);
    EXPECT_TRUE(std::holds_alternative<HookBodyError>(r)) << body;
  }
}
