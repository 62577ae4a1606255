// spdlog set up for a service: one line per record on stderr (journald takes
// it from there), `text` for people or `json` (one object per line) for
// journald/Loki pipelines.
#pragma once

#include "config/config.hpp"

namespace healthsweep::daemon {

void setup_logging(config::LogLevel level, config::LogFormat format);

}  // namespace healthsweep::daemon
