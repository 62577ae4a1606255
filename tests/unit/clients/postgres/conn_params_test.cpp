// What libpq is handed to connect: host names resolved here (off the loop),
// as hostaddr=, in the DSN's order, multi-host lists with their ports kept in
// step; addresses and socket directories untouched; a DSN libpq would refuse
// left for libpq to explain.
#include "clients/postgres/conn_params.hpp"

#include <gtest/gtest.h>

#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <map>

namespace healthsweep::clients::postgres {
namespace {
using namespace std::chrono_literals;

std::map<std::string, std::string> params_of(const std::string& dsn, std::string* error = nullptr) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, connection_params(io.get_executor(), dsn, 5s), boost::asio::use_future);
  io.run();
  const auto p = f.get();
  if (error) *error = p.error;
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < p.keys.size(); ++i) out[p.keys[i]] = p.values[i];
  return out;
}

std::vector<std::string> list(const std::string& s) {
  std::vector<std::string> out;
  boost::split(out, s, boost::is_any_of(","));
  return out;
}

TEST(ConnParams, AMultiHostListResolvesEachNameAndKeepsPortsInStep) {
  const auto p = params_of("host=localhost,/run/postgresql,127.0.0.2 port=1,2,3 dbname=x");
  ASSERT_TRUE(p.count("hostaddr"));
  const auto hosts = list(p.at("host")), addrs = list(p.at("hostaddr")), ports = list(p.at("port"));
  ASSERT_EQ(hosts.size(), addrs.size());
  ASSERT_EQ(hosts.size(), ports.size());
  ASSERT_GE(hosts.size(), 3u);
  const std::size_t named = hosts.size() - 2;  // localhost: one entry per address (127.0.0.1, maybe ::1)
  for (std::size_t i = 0; i < named; ++i) {
    EXPECT_EQ(hosts[i], "localhost") << "kept for TLS and .pgpass";
    EXPECT_TRUE(addrs[i] == "127.0.0.1" || addrs[i] == "::1") << addrs[i];
    EXPECT_EQ(ports[i], "1");
  }
  EXPECT_EQ(hosts[named], "/run/postgresql");
  EXPECT_EQ(addrs[named], "") << "a socket directory has no address";
  EXPECT_EQ(ports[named], "2");
  EXPECT_EQ(hosts[named + 1], "127.0.0.2");
  EXPECT_EQ(addrs[named + 1], "127.0.0.2");
  EXPECT_EQ(ports[named + 1], "3");
  EXPECT_EQ(p.at("dbname"), "x");
}

TEST(ConnParams, OnePortServesEveryHostAsInLibpq) {
  const auto p = params_of("host=127.0.0.1,localhost port=5432");
  EXPECT_EQ(p.at("port"), "5432");
  EXPECT_EQ(list(p.at("host")).size(), list(p.at("hostaddr")).size());
  EXPECT_EQ(list(p.at("hostaddr"))[0], "127.0.0.1");
}

TEST(ConnParams, AddressesOnlyOrAnExplicitHostaddrAreLeftToLibpq) {
  EXPECT_FALSE(params_of("host=127.0.0.1,::1 port=1,2").count("hostaddr"));
  EXPECT_EQ(params_of("host=localhost hostaddr=127.0.0.9").at("hostaddr"), "127.0.0.9");
  // Three hosts, two ports: libpq's own error says what is wrong.
  EXPECT_FALSE(params_of("host=localhost,localhost,localhost port=1,2").count("hostaddr"));
}

}  // namespace
}  // namespace healthsweep::clients::postgres
