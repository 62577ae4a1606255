// HttpChecker over TLS against a local HTTPS server whose self-signed
// certificate is made at test time with the openssl CLI. Proves that peer
// verification is on (system CAs refuse it), that host names and IP
// addresses are checked against the certificate, and that SNI is sent.
#include "clients/http/checker.hpp"

#include "tests/integration/probes_server.hpp"
#include "tests/support/bounds.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

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

Reply ok_reply(const Seen&) { return Reply{}; }

struct Certificate {
  std::string cert;
  std::string key;
};

// A self-signed certificate (its own CA) for the given subjectAltName.
Certificate make_certificate(const testing::TempDir& dir, const std::string& name, const std::string& san) {
  Certificate c{dir.file(name + ".crt"), dir.file(name + ".key")};
  std::string out;
  const int rc = testing::run_shell(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      " -subj /CN=healthsweep-test -addext 'subjectAltName=" + san + "'"
      " -keyout " + c.key + " -out " + c.cert + " 2>&1", &out);
  if (rc != 0) throw std::runtime_error("openssl req failed: " + out);
  return c;
}

// A TLS server context that records the SNI name each handshake asked for.
struct TlsServerContext {
  explicit TlsServerContext(const Certificate& c) : ctx(net::ssl::context::tls_server) {
    ctx.use_certificate_chain_file(c.cert);
    ctx.use_private_key_file(c.key, net::ssl::context::pem);
    SSL_CTX_set_tlsext_servername_callback(ctx.native_handle(), &TlsServerContext::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(ctx.native_handle(), this);
  }
  static int on_server_name(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name) static_cast<TlsServerContext*>(arg)->sni_names.push_back(name);  // called without SNI too
    return SSL_TLSEXT_ERR_OK;
  }
  net::ssl::context ctx;
  std::vector<std::string> sni_names;  // one per handshake that sent SNI
};

class ProbesHttps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::run_shell("command -v openssl >/dev/null") != 0) {
      if (testing::in_ci()) GTEST_FAIL() << "openssl CLI missing (CI=true)";
      GTEST_SKIP() << "SKIPPED LOUDLY: the openssl CLI is not installed";
    }
    local = make_certificate(dir, "local", "DNS:localhost,IP:127.0.0.1");
    other = make_certificate(dir, "other", "DNS:other.invalid");
  }

  HttpClientOptions trusting(const Certificate& c) {
    HttpClientOptions options;
    options.extra_ca_file = c.cert;
    return options;
  }

  testing::TempDir dir;
  Certificate local, other;
  net::io_context ctx;
};

TEST_F(ProbesHttps, SelfSignedCertificateIsRefusedAgainstTheSystemCas) {
  TlsServerContext tls(local);
  Server server(ctx, ok_reply, &tls.ctx);
  HttpChecker checker(ctx.get_executor());  // system CAs only
  const auto outcome = run(ctx, checker.check(server.url(), 5s));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.http_status, 0);
  EXPECT_EQ(outcome.detail, "TLS: certificate verify failed (self-signed certificate)");
  EXPECT_EQ(server.requests(), 0u);  // no request went over an unverified connection
}

TEST_F(ProbesHttps, TrustedCertificateForTheIpAddressIsAliveAndReused) {
  TlsServerContext tls(local);
  Server server(ctx, ok_reply, &tls.ctx);
  HttpChecker checker(ctx.get_executor(), trusting(local));
  for (int i = 0; i < 5; ++i) {
    const auto outcome = run(ctx, checker.check(server.url(), 5s));
    EXPECT_TRUE(outcome.alive) << outcome.detail;
    EXPECT_EQ(outcome.detail, "HTTP 200");
  }
  EXPECT_EQ(checker.connections_opened(), 1u);
  EXPECT_EQ(server.accepted(), 1u);
  // SNI carries names only: none for an IP literal.
  EXPECT_TRUE(tls.sni_names.empty());
}

TEST_F(ProbesHttps, HostNameIsSentAsSniAndMatched) {
  TlsServerContext tls(local);
  Server server(ctx, ok_reply, &tls.ctx);
  HttpChecker checker(ctx.get_executor(), trusting(local));
  const auto outcome =
      run(ctx, checker.check("https://localhost:" + std::to_string(server.port()) + "/health", 5s));
  EXPECT_TRUE(outcome.alive) << outcome.detail;
  ASSERT_EQ(tls.sni_names.size(), 1u);
  EXPECT_EQ(tls.sni_names[0], "localhost");
}

TEST_F(ProbesHttps, TrustedCertificateForAnotherHostIsRefused) {
  TlsServerContext tls(other);
  Server server(ctx, ok_reply, &tls.ctx);
  HttpChecker checker(ctx.get_executor(), trusting(other));
  const auto by_ip = run(ctx, checker.check(server.url(), 5s));
  EXPECT_FALSE(by_ip.alive);
  EXPECT_EQ(by_ip.detail, "TLS: certificate verify failed (certificate is not valid for 127.0.0.1)");
  const auto by_name =
      run(ctx, checker.check("https://localhost:" + std::to_string(server.port()) + "/health", 5s));
  EXPECT_FALSE(by_name.alive);
  EXPECT_EQ(by_name.detail, "TLS: certificate verify failed (certificate is not valid for localhost)");
  EXPECT_EQ(server.requests(), 0u);
}

TEST_F(ProbesHttps, HttpsToAPlainHttpServerIsATlsFailure) {
  Server server(ctx, ok_reply);
  HttpChecker checker(ctx.get_executor());
  const auto outcome =
      run(ctx, checker.check("https://127.0.0.1:" + std::to_string(server.port()) + "/health", 5s));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail.rfind("TLS: ", 0), 0u) << outcome.detail;
}

TEST_F(ProbesHttps, SilentTlsServerTimesOutDuringTheHandshake) {
  // A plain TCP listener that accepts and says nothing: the handshake waits.
  net::ip::tcp::acceptor silent(ctx, {net::ip::make_address("127.0.0.1"), 0});
  HttpChecker checker(ctx.get_executor());
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = run(ctx, checker.check(
      "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/", 300ms));
  EXPECT_FALSE(outcome.alive);
  EXPECT_EQ(outcome.detail, "timeout after 300 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - started, healthsweep::testing::hang_bound);
}

TEST_F(ProbesHttps, UnreadableExtraCaFileIsAStartupError) {
  HttpClientOptions options;
  options.extra_ca_file = dir.file("missing.pem");
  EXPECT_THROW(HttpChecker(ctx.get_executor(), options), std::system_error);
}

}  // namespace
}  // namespace healthsweep::sweeps
