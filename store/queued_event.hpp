// An event waiting in the store's queue for PostgreSQL, packed: its eight
// text fields end to end in one allocation. The queue can hold 100,000
// first judgements at a start (or a mass death): as Events they took 480 B
// of heap each (a 312 B struct, and the id, the reason and the detail each
// in a block of its own), packed about 230 B. Read in place for a batch's
// parameters and a spool line; unpacked only for an event set aside.
#pragma once

#include "store/event.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace healthsweep::store {

class QueuedEvent {
 public:
  explicit QueuedEvent(const Event& e);
  QueuedEvent(QueuedEvent&&) noexcept = default;
  QueuedEvent& operator=(QueuedEvent&&) noexcept = default;

  Event event() const;  // what it was made from, field for field

  std::string_view event_id() const { return field(id); }
  std::string_view target() const { return field(target_); }
  std::string_view from_state() const { return field(from); }
  std::string_view to_state() const { return field(to); }
  std::string_view layer() const { return field(layer_); }
  std::string_view reason() const { return field(reason_); }
  std::string_view detail_json() const { return field(detail); }
  std::string_view instance() const { return field(instance_); }
  std::chrono::system_clock::time_point at() const { return at_; }
  const std::vector<std::chrono::system_clock::time_point>& recent_restarts() const { return recent_; }
  int restarts() const { return restarts_; }
  bool quarantined() const { return quarantined_; }
  bool removed() const { return removed_; }
  std::int64_t epoch() const { return epoch_; }

 private:
  enum Field : std::size_t { id, target_, from, to, layer_, reason_, detail, instance_, fields };
  std::string_view field(Field f) const {
    const std::uint32_t begin = f == 0 ? 0 : ends_[f - 1];
    return {text_.get() + begin, ends_[f] - begin};
  }

  std::unique_ptr<char[]> text_;
  std::array<std::uint32_t, fields> ends_{};  // where each field ends in text_
  std::chrono::system_clock::time_point at_;
  std::int64_t epoch_ = 0;
  std::vector<std::chrono::system_clock::time_point> recent_;  // empty (no allocation) for most
  int restarts_ = 0;
  bool quarantined_ = false, removed_ = false;
};

}  // namespace healthsweep::store
