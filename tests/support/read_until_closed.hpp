// Everything a peer sends on `s` until it closes its side (EOF or reset), or
// until `limit` passes: the raw reply of a hand-written HTTP request in the
// listener's tests. Polls without blocking, so a peer that never closes costs
// `limit`, not a hang.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace healthsweep::testing {

inline std::string read_until_closed(boost::asio::ip::tcp::socket& s, std::chrono::milliseconds limit) {
  std::string out;
  s.non_blocking(true);
  const auto end = std::chrono::steady_clock::now() + limit;
  char buf[8192];
  while (std::chrono::steady_clock::now() < end) {
    boost::system::error_code ec;
    const auto n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec == boost::asio::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

}  // namespace healthsweep::testing
