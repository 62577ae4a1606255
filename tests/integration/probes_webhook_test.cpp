// WebhookClient against a real HTTP server on loopback: the JSON body
// arrives, 5xx and unreachable receivers are retried, 4xx are not.
#include "clients/http/webhook_client.hpp"

#include "tests/integration/probes_server.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::http;
using namespace healthsweep::clients::net;
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::probes::Reply;
using testing::probes::run;
using testing::probes::Seen;
using testing::probes::Server;

const std::string kBody = R"({"target":"ws-1","state":"offline","reason":"heartbeat expired"})";

WebhookOptions quick_backoff() {
  WebhookOptions options;
  options.backoff_initial = 20ms;
  return options;
}

TEST(ProbesWebhook, ReceiverGetsTheJsonBody) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.status = 204, .body = ""}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto outcome = run(ctx, client.post(server.url("/hooks/restart"), kBody, 2s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  EXPECT_EQ(outcome.detail, "HTTP 204");
  ASSERT_EQ(server.requests(), 1u);
  const Seen& seen = server.seen()[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/hooks/restart");
  EXPECT_EQ(seen.content_type, "application/json");
  EXPECT_EQ(seen.body, kBody);
}

// A receiver named by host: the name goes through Asio's resolver (its
// hidden thread; localhost comes from /etc/hosts, no DNS traffic).
TEST(ProbesWebhook, ReceiverNamedByHostIsResolved) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.status = 204, .body = ""}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto url = "http://localhost:" + std::to_string(server.port()) + "/hook";
  const auto outcome = run(ctx, client.post(url, kBody, 2s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  ASSERT_EQ(server.requests(), 1u);
  EXPECT_EQ(server.seen()[0].body, kBody);
}

TEST(ProbesWebhook, ServiceUnavailableIsRetriedUntilItSucceeds) {
  net::io_context ctx;
  int calls = 0;
  Server server(ctx, [&](const Seen&) { return Reply{.status = ++calls < 3 ? 503 : 200}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto outcome = run(ctx, client.post(server.url("/hook"), kBody, 2s, 3));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  EXPECT_EQ(outcome.detail, "HTTP 200 (attempt 3 of 3)");
  ASSERT_EQ(server.requests(), 3u);
  for (const auto& seen : server.seen()) EXPECT_EQ(seen.body, kBody);
  EXPECT_EQ(client.attempts_made(), 3u);
}

TEST(ProbesWebhook, BadRequestIsNotRetried) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.status = 400, .body = "bad body"}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto outcome = run(ctx, client.post(server.url("/hook"), kBody, 2s, 3));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 400);
  EXPECT_EQ(outcome.detail, "HTTP 400");
  EXPECT_EQ(server.requests(), 1u);
  EXPECT_EQ(client.attempts_made(), 1u);
}

TEST(ProbesWebhook, PersistentServerErrorGivesUpAfterTheAttempts) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.status = 502}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto outcome = run(ctx, client.post(server.url("/hook"), kBody, 2s, 3));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "HTTP 502 (3 attempts)");
  EXPECT_EQ(server.requests(), 3u);
}

TEST(ProbesWebhook, UnreachableReceiverIsRetriedWithBackoff) {
  net::io_context ctx;
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const testing::ClosedPort closed;
  const auto port = closed.port();
  const auto started = std::chrono::steady_clock::now();
  const auto outcome =
      run(ctx, client.post("http://127.0.0.1:" + std::to_string(port) + "/hook", kBody, 2s, 3));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "connect: Connection refused (3 attempts)");
  EXPECT_EQ(client.attempts_made(), 3u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 60ms);  // 20 ms + 40 ms of backoff
}

TEST(ProbesWebhook, SilentReceiverTimesOutOnEveryAttempt) {
  net::io_context ctx;
  Server server(ctx, [](const Seen&) { return Reply{.never_answer = true}; });
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = run(ctx, client.post(server.url("/hook"), kBody, 200ms, 2));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "timeout after 200 ms (2 attempts)");
  EXPECT_EQ(server.requests(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, healthsweep::testing::hang_bound);
}

TEST(ProbesWebhook, UrlThatCannotWorkIsNotRetried) {
  net::io_context ctx;
  WebhookClient client(ctx.get_executor(), quick_backoff());
  const auto outcome = run(ctx, client.post("mailto:ops@example.org", kBody, 2s, 3));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "url: scheme 'mailto' is not http or https");
  EXPECT_EQ(client.attempts_made(), 0u);
}

}  // namespace
}  // namespace healthsweep::sweeps
