// At most one log line a second for a kind of event a client can cause at
// will (failed auth, refused connections), with the count of those not
// logged in between, so a flood cannot fill the journal.
#pragma once

#include <chrono>
#include <cstddef>

namespace healthsweep::daemon {

class LogEverySecond {
 public:
  using clock = std::chrono::steady_clock;
  // True when a line may be written at `now`; then `suppressed` is how many
  // events were not logged since the last line.
  bool allow(clock::time_point now, std::size_t& suppressed) {
    if (logged_ && now - last_ < std::chrono::seconds(1)) {
      ++suppressed_;
      return false;
    }
    logged_ = true;
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  bool allow(std::size_t& suppressed) { return allow(clock::now(), suppressed); }

 private:
  bool logged_ = false;
  clock::time_point last_{};
  std::size_t suppressed_ = 0;
};

}  // namespace healthsweep::daemon
