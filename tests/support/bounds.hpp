// The one upper bound on elapsed time a test may assert. ctest checks
// behaviour, never speed (speed is measured in bench/): a bound on how long
// something took must be loose enough that only a hang can break it, whatever
// the load (two shared cores, a sanitizer build). Lower bounds ("it waited
// for its timeout") are behaviour and stay exact.
#pragma once

#include <chrono>

namespace healthsweep::testing {

inline constexpr std::chrono::seconds hang_bound{30};

}  // namespace healthsweep::testing
