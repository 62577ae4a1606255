#pragma once
#include <thread>

namespace healthsweep::testing {
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout, std::chrono::microseconds poll) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(poll);
  }
}
template <class Pred>
bool holds_for(std::chrono::milliseconds window, Pred pred) {
  const auto end = std::chrono::steady_clock::now() + window;
  while (true) {
    if (!pred()) return false;
    if (std::chrono::steady_clock::now() >= end) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}
}  // namespace healthsweep::testing
