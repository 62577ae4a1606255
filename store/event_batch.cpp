#include "store/event_batch.hpp"

#include <chrono>
#include <unordered_set>

namespace healthsweep::store {

void append_array_element(std::string& array, std::string_view value) {
  array.push_back(array.empty() ? '{' : ',');  // the caller closes it with '}'
  array.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') array.push_back('\\');
    array.push_back(c);
  }
  array.push_back('"');
}

namespace {

// Column by column: each parameter an array literal with one element per event.
struct Columns {
  static constexpr std::size_t count = 14;
  std::string col[count];
  void add(std::size_t i, std::string_view v) { append_array_element(col[i], v); }
};

}  // namespace

std::size_t batch_size(const std::deque<QueuedEvent>& queue, std::size_t limit) {
  std::unordered_set<std::string_view> targets;
  std::size_t n = 0;
  for (; n < limit && n < queue.size(); ++n)
    if (!targets.insert(queue[n].target()).second) break;
  return n;
}

clients::postgres::PgConnection::Params batch_params(const std::deque<QueuedEvent>& queue, std::size_t n) {
  Columns c;
  std::string recent;
  for (std::size_t k = 0; k < n && k < queue.size(); ++k) {
    const QueuedEvent& e = queue[k];
    recent.clear();
    for (const auto t : e.recent_restarts()) {
      if (!recent.empty()) recent.push_back(',');
      recent.append(std::to_string(to_micros(t)));
    }
    c.add(0, e.event_id());
    c.add(1, e.target());
    c.add(2, e.from_state());
    c.add(3, e.to_state());
    c.add(4, e.layer());
    c.add(5, e.reason());
    c.add(6, std::to_string(to_micros(e.at())));
    c.add(7, e.detail_json());
    c.add(8, std::to_string(e.restarts()));
    c.add(9, e.quarantined() ? "t" : "f");
    c.add(10, e.removed() ? "t" : "f");
    c.add(11, recent);
    c.add(12, e.instance());
    c.add(13, std::to_string(e.epoch()));
  }
  clients::postgres::PgConnection::Params params;
  for (auto& col : c.col) params.emplace_back(col.empty() ? "{}" : col + "}");
  return params;
}

}  // namespace healthsweep::store
