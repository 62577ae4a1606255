#include "store/queued_event.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace healthsweep::store {

QueuedEvent::QueuedEvent(const Event& e)
    : at_(e.at),
      epoch_(e.epoch),
      recent_(e.recent_restarts),
      restarts_(e.restarts),
      quarantined_(e.quarantined),
      removed_(e.removed) {
  const std::string* in[fields] = {&e.event_id, &e.target, &e.from_state, &e.to_state,
                                   &e.layer,    &e.reason, &e.detail_json, &e.instance};
  std::size_t total = 0;
  for (const auto* s : in) total += s->size();
  // Never from our own events (a detail is a few dozen bytes); a spool line
  // of 4 GiB would not have been read.
  if (total > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("store: event too large");
  text_ = std::make_unique_for_overwrite<char[]>(total);
  std::uint32_t end = 0;
  for (std::size_t f = 0; f < fields; ++f) {
    if (!in[f]->empty()) std::memcpy(text_.get() + end, in[f]->data(), in[f]->size());
    end += static_cast<std::uint32_t>(in[f]->size());
    ends_[f] = end;
  }
}

Event QueuedEvent::event() const {
  Event e;
  e.event_id = event_id();
  e.target = target();
  e.from_state = from_state();
  e.to_state = to_state();
  e.layer = layer();
  e.reason = reason();
  e.at = at_;
  e.detail_json = detail_json();
  e.restarts = restarts_;
  e.quarantined = quarantined_;
  e.recent_restarts = recent_;
  e.removed = removed_;
  e.instance = instance();
  e.epoch = epoch_;
  return e;
}

}  // namespace healthsweep::store
