// A loopback HTTP server (tools/status_server.py) whose answer a test sets by
// writing a status code; it also records the body of every POST.
#pragma once

#include <regex>
#include <string>

#include "tests/support/process.hpp"

namespace healthsweep::testing {

struct StatusServer {
  TempDir dir;
  std::string status_file;
  Subprocess process;
  int port = 0;

  explicit StatusServer(int initial_status = 200)
      : status_file(dir.write("status", std::to_string(initial_status))),
        process({"/usr/bin/python3", std::string(HS_SOURCE_DIR) + "/tests/integration/tools/status_server.py",
                 status_file},
                dir.file("server.log")) {
    static const std::regex re(R"(listening on (\d+)\n)");
    eventually([&] {
      std::smatch m;
      const auto log = process.log();
      if (std::regex_search(log, m, re)) port = std::stoi(m[1]);
      return port != 0;
    }, std::chrono::seconds(10));
  }
  void answer(int code) { dir.write("status", std::to_string(code)); }
  std::string url(const std::string& path = "/health") const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  std::string posts() const { return read_file(status_file + ".posts"); }
};

}  // namespace healthsweep::testing
