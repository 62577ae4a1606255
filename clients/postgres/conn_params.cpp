#include "clients/postgres/conn_params.hpp"

#include "clients/net/resolver.hpp"
#include "clients/postgres/libpq.hpp"

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace healthsweep::clients::postgres {
namespace net = boost::asio;

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// A unix socket directory, or an abstract socket name.
bool socket_path(const std::string& host) { return !host.empty() && (host[0] == '/' || host[0] == '@'); }

// A host name (not an address, not a socket path).
bool needs_lookup(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !host.empty() && ec && !socket_path(host);
}

// host=, hostaddr= and port= lists built entry by entry.
struct Lists {
  std::string hosts, addrs, ports;
  std::size_t count = 0;
  void add(const std::string& host, const std::string& addr, const std::string& port) {
    const char* sep = count++ ? "," : "";
    hosts.append(sep).append(host);
    addrs.append(sep).append(addr);
    ports.append(sep).append(port);
  }
};

}  // namespace

net::awaitable<ConnParams> connection_params(net::any_io_executor ex, const std::string& dsn,
                                             std::chrono::milliseconds timeout) {
  ConnParams p;
  char* parse_error = nullptr;
  PQconninfoOption* options = libpq().PQconninfoParse(dsn.c_str(), &parse_error);
  if (!options) {
    p.error = "connect: " + std::string(parse_error ? parse_error : "invalid connection string");
    if (parse_error) libpq().PQfreemem(parse_error);
    co_return p;
  }
  std::string host, port;
  bool has_hostaddr = false;
  for (auto* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    p.keys.emplace_back(o->keyword);
    p.values.emplace_back(o->val);
    if (p.keys.back() == "host") host = o->val;
    if (p.keys.back() == "port") port = o->val;
    if (p.keys.back() == "hostaddr") has_hostaddr = true;
  }
  libpq().PQconninfoFree(options);
  if (host.empty() || has_hostaddr) co_return p;
  // A multi-host DSN (host=a,b port=1,2 ... target_session_attrs=read-write)
  // is a list: each name in it is resolved here, each literal or socket path
  // kept; libpq then tries the entries in order, as it would have.
  const auto hosts = split_list(host);
  const auto ports = split_list(port);
  if (ports.size() > 1 && ports.size() != hosts.size()) co_return p;  // libpq says what is wrong
  if (std::none_of(hosts.begin(), hosts.end(), needs_lookup)) co_return p;
  Lists out;
  std::string failures;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const std::string entry_port = ports.size() > 1 ? ports[i] : std::string();
    if (!needs_lookup(hosts[i])) {
      // An address is its own hostaddr; a socket directory has none (libpq
      // then takes the host entry as it is).
      out.add(hosts[i], socket_path(hosts[i]) ? std::string() : hosts[i], entry_port);
      continue;
    }
    // The one deadline-bounded resolver the probes and the Redis client use.
    const auto resolved =
        co_await clients::net::resolve(ex, hosts[i], 0, std::chrono::steady_clock::now() + timeout);
    const auto& rec = resolved.ec;
    if (rec || resolved.endpoints.empty()) {
      failures += (failures.empty() ? "" : "; ") + std::string("cannot resolve ") + hosts[i] + ": " +
                  (rec == net::error::timed_out ? std::string("no answer in time")
                                                : rec ? rec.message() : std::string("no address"));
      continue;  // the other hosts may do
    }
    // Every address, in the resolver's order, as libpq would try them: one
    // host=NAME per hostaddr=ADDRESS.
    std::vector<std::string> seen;  // the resolver lists an address once per socket type
    for (const auto& endpoint : resolved.endpoints) {
      auto addr = endpoint.address().to_string();
      if (std::find(seen.begin(), seen.end(), addr) != seen.end()) continue;
      out.add(hosts[i], addr, entry_port);
      seen.push_back(std::move(addr));
    }
  }
  if (out.count == 0) {
    p.error = "connect: " + failures;
    co_return p;
  }
  if (!failures.empty()) spdlog::warn("postgres: {}; trying the other hosts", failures);
  for (std::size_t i = 0; i < p.keys.size(); ++i) {
    if (p.keys[i] == "host") p.values[i] = out.hosts;
    if (p.keys[i] == "port" && ports.size() > 1) p.values[i] = out.ports;
  }
  p.keys.emplace_back("hostaddr");
  p.values.push_back(out.addrs);
  co_return p;
}


}  // namespace healthsweep::clients::postgres
