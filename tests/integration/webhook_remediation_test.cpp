// remediation.restart.via: webhook through the whole daemon: a target whose
// TCP check fails goes offline and the daemon POSTs the JSON description.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include "tests/integration/status_server.hpp"
#include "tests/integration/target_json.hpp"

using namespace healthsweep::testing;
using namespace std::chrono_literals;

TEST(WebhookRemediation, OfflineTargetIsReportedToTheWebhookWithRetry) {
  StatusServer server(503);  // the receiver fails first
  ASSERT_NE(server.port, 0) << server.process.log();

  // A TCP target on a port nobody listens on: offline after two checks.
  const ClosedPort closed;
  const int closed_port = closed.port();
  Daemon d("targets:\n  static:\n    - { id: hook-t, tcp: \"127.0.0.1:" + std::to_string(closed_port) + "\" }\n"
           "sweeps:\n  proactive: { interval: 300ms, timeout: 1s, failure_threshold: 2 }\n"
           "remediation:\n  restart:\n    via: webhook\n"
           "    webhook_url: \"" + server.url("/remediate") + "\"\n"
           "    startup_grace: 30s\n");
  ASSERT_TRUE(eventually([&] { return !server.posts().empty(); }, 15s)) << d.log();
  server.answer(200);  // the retry succeeds
  ASSERT_TRUE(eventually([&] {
    return metric(d, "healthsweep_remediations_total{action=\"webhook\",result=\"ok\"}") == 1; }, 15s)) << d.log();
  const auto posts = server.posts();
  const auto first = boost::json::parse(posts.substr(0, posts.find('\n'))).as_object();
  EXPECT_EQ(first.at("target").as_string(), "hook-t");
  EXPECT_EQ(first.at("action").as_string(), "restart");
  EXPECT_TRUE(first.at("container").is_null());
  EXPECT_NE(std::string(first.at("reason").as_string()).find("refused"), std::string::npos) << posts;
  EXPECT_EQ(state_of(d, "hook-t"), "restarting");
  EXPECT_EQ(target(d, "hook-t")->restarts, 1);
}
