// The daemon: one io_context, every component wired to it, signals, reload,
// sd_notify and the watchdog. The only place that knows every component.
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"

namespace healthsweep::daemon {

class App {
 public:
  App(config::Config config, std::string config_path);
  ~App();
  // Runs until SIGTERM/SIGINT; returns the process exit status. Throws
  // std::system_error on startup problems (cannot bind the listener).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace healthsweep::daemon
