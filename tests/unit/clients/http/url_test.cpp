// URL handling of the HTTP probes (sweeps/http_url.hpp): what is accepted,
// what a request is sent with, and the detail of what is refused.
#include "clients/http/url.hpp"

#include <gtest/gtest.h>

namespace healthsweep::sweeps {
using namespace healthsweep::clients::http;
namespace {

HttpUrl ok(std::string_view text) {
  auto parsed = parse_http_url(text);
  EXPECT_TRUE(parsed.url.has_value()) << text << ": " << parsed.error;
  return parsed.url.value_or(HttpUrl{});
}

std::string refused(std::string_view text) {
  auto parsed = parse_http_url(text);
  EXPECT_FALSE(parsed.url.has_value()) << text;
  return parsed.error;
}

TEST(HttpCheckerUrl, PlainHttpWithPortPathAndQuery) {
  const HttpUrl u = ok("http://127.0.0.1:8081/health?deep=1");
  EXPECT_FALSE(u.tls);
  EXPECT_TRUE(u.host_is_ip);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8081);
  EXPECT_EQ(u.target, "/health?deep=1");
  EXPECT_EQ(u.host_header, "127.0.0.1:8081");
  EXPECT_EQ(u.origin(), "http://127.0.0.1:8081");
}

TEST(HttpCheckerUrl, DefaultPortsAreLeftOutOfTheHostHeader) {
  const HttpUrl http = ok("http://example.org/");
  EXPECT_EQ(http.port, 80);
  EXPECT_EQ(http.host_header, "example.org");
  const HttpUrl https = ok("https://example.org");
  EXPECT_TRUE(https.tls);
  EXPECT_EQ(https.port, 443);
  EXPECT_EQ(https.host_header, "example.org");
  EXPECT_FALSE(https.host_is_ip);
}

TEST(HttpCheckerUrl, EmptyPathBecomesSlashAndFragmentIsNotSent) {
  EXPECT_EQ(ok("http://h:1").target, "/");
  EXPECT_EQ(ok("http://h:1?x=1").target, "/?x=1");
  EXPECT_EQ(ok("http://h:1/a#frag").target, "/a");
}

TEST(HttpCheckerUrl, PercentEncodingIsKeptInTheTarget) {
  EXPECT_EQ(ok("http://h/a%20b?q=%2F").target, "/a%20b?q=%2F");
}

TEST(HttpCheckerUrl, Ipv6LiteralIsUnbracketedForConnectAndBracketedInHeaders) {
  const HttpUrl u = ok("http://[::1]:9470/healthz");
  EXPECT_EQ(u.host, "::1");
  EXPECT_TRUE(u.host_is_ip);
  EXPECT_EQ(u.host_header, "[::1]:9470");
  EXPECT_EQ(u.origin(), "http://[::1]:9470");
}

TEST(HttpCheckerUrl, HostNamesAreCaseInsensitiveForPooling) {
  EXPECT_EQ(ok("HTTP://LocalHost:80/x").origin(), ok("http://localhost/y").origin());
}

TEST(HttpCheckerUrl, SchemeAndPortDistinguishOrigins) {
  EXPECT_NE(ok("http://h:443/").origin(), ok("https://h/").origin());
  EXPECT_NE(ok("http://h:1/").origin(), ok("http://h:2/").origin());
}

TEST(HttpCheckerUrl, OtherSchemesAreRefusedWithTheirName) {
  EXPECT_EQ(refused("ftp://127.0.0.1/x"), "url: scheme 'ftp' is not http or https");
  EXPECT_EQ(refused("tcp://127.0.0.1:80"), "url: scheme 'tcp' is not http or https");
}

TEST(HttpCheckerUrl, NotAUrlIsRefused) {
  EXPECT_NE(refused("127.0.0.1:8080/health").find("url: "), std::string::npos);
  EXPECT_NE(refused("http://exa mple.org/").find("is not a valid URL"), std::string::npos);
  EXPECT_NE(refused("").find("url: "), std::string::npos);
}

TEST(HttpCheckerUrl, MissingHostIsRefused) {
  EXPECT_EQ(refused("http:///health"), "url: 'http:///health' has no host");
  EXPECT_EQ(refused("http:/health"), "url: 'http:/health' has no host");
}

TEST(HttpCheckerUrl, OutOfRangePortIsRefused) {
  EXPECT_EQ(refused("http://h:70000/"), "url: port '70000' is out of range");
  EXPECT_EQ(refused("http://h:0/"), "url: port '0' is out of range");
}

TEST(HttpCheckerUrl, CredentialsAreRefused) {
  EXPECT_EQ(refused("http://user:pw@h/"), "url: credentials in the URL are not supported");
}

TEST(HttpCheckerUrl, EmptyPortMeansTheDefault) {
  EXPECT_EQ(ok("http://h:/").port, 80);
}

}  // namespace
}  // namespace healthsweep::sweeps
