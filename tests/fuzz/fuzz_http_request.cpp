// Untrusted bytes from the network: the HTTP parser with the listener's
// limits, then the routes (with the real hook body parser) on whatever parses.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>

#include "daemon/routes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  using namespace healthsweep::daemon;
  static const std::optional<std::string> token = "tok";
  static Routes routes = [] {
    Routes r;
    r.metrics = [] { return std::string("m"); };
    r.liveness = [] { return std::pair{true, std::string("{}")}; };
    r.targets = [] { return std::string("[]"); };
    r.target = [](std::string_view id) -> std::optional<std::string> {
      if (id == "ws-1") return std::string("{}");
      return std::nullopt;
    };
    r.hook = [](HookReport&& h) { return h.target == "ws-1" ? CheckAnswer::accepted : CheckAnswer::unknown_target; };
    r.sweep = [](std::string_view id) { return id == "ws-1" ? CheckAnswer::accepted : CheckAnswer::unknown_target; };
    r.reset = [](std::string_view id) { return id == "ws-1"; };
    r.token = []() -> const std::optional<std::string>& { return token; };
    return r;
  }();
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && parser.is_header_done() && parser.is_done()) {
    auto res = route(routes, parser.release());
    if (res.result_int() < 200 || res.result_int() > 599) __builtin_trap();
  }
  return 0;
}
