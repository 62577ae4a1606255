// Which exit code an answer of the admin API gives, and the message shown.
#include <gtest/gtest.h>

#include "ctl/admin_client.hpp"
#include "ctl/exit_code.hpp"

namespace healthsweep::ctl {
namespace {

Reply answer(int status, std::string body = {}) {
  Reply r;
  r.reached = true;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply unreachable(std::string why) {
  Reply r;
  r.error = std::move(why);
  return r;
}

TEST(CtlExitCode, TwoHundredsAreOkEverythingElseFailedNothingAtAllUnreachable) {
  EXPECT_EQ(exit_code_for(answer(200)), ExitCode::ok);
  EXPECT_EQ(exit_code_for(answer(202)), ExitCode::ok);
  EXPECT_EQ(exit_code_for(answer(404)), ExitCode::failed);
  EXPECT_EQ(exit_code_for(answer(429)), ExitCode::failed);
  EXPECT_EQ(exit_code_for(answer(503)), ExitCode::failed);
  EXPECT_EQ(exit_code_for(answer(302)), ExitCode::failed);
  EXPECT_EQ(exit_code_for(unreachable("connect: Connection refused")), ExitCode::unreachable);
  EXPECT_EQ(static_cast<int>(ExitCode::usage), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::unreachable), 3);
}

TEST(CtlExitCode, MessagesCarryTheDaemonsErrorText) {
  EXPECT_EQ(failure_message(answer(404, R"({"error":"unknown target"})")), "HTTP 404: unknown target");
  EXPECT_EQ(failure_message(answer(500, "<html>")), "HTTP 500");
  EXPECT_EQ(failure_message(unreachable("timed out after 5000 ms")),
            "daemon not reachable: timed out after 5000 ms");
}

TEST(CtlAdminPath, TheTargetIdIsOnePercentEncodedSegment) {
  EXPECT_EQ(target_path("ws-1"), "/admin/targets/ws-1");
  EXPECT_EQ(target_path("ws-1", "/reset"), "/admin/targets/ws-1/reset");
  EXPECT_EQ(target_path("a/b c"), "/admin/targets/a%2Fb%20c");
}

TEST(CtlAdminPath, TheNextPageComesFromTheLinkHeader) {
  EXPECT_EQ(next_link(R"(</admin/targets?limit=2&after=b>; rel="next")"), "/admin/targets?limit=2&after=b");
  EXPECT_EQ(next_link(R"(</a>; rel="prev", </b>;rel=next)"), "/b");
  EXPECT_EQ(next_link(""), std::nullopt);
  EXPECT_EQ(next_link(R"(</a>; rel="prev")"), std::nullopt);
  EXPECT_EQ(next_link("garbage"), std::nullopt);
}

}  // namespace
}  // namespace healthsweep::ctl
