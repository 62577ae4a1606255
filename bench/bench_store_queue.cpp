// The store's queue of events waiting for PostgreSQL, at the size a start
// with 100,000 heartbeat targets reaches under SCHED_FIFO (46,000 first
// judgements waiting; BENCHMARKS.md, 2026-12-06). Two figures, each against
// the way it was done before, measured in the same run:
//  A. heap per queued event: std::deque<QueuedEvent> (packed, the store's
//     queue now) against std::deque<Event> (the queue before);
//  B. a spool rewrite (compaction) of half the queue: the largest buffer it
//     holds, written a chunk at a time (SpoolFile::rewrite now) against the
//     whole text built first (before), and the loop time each takes (the
//     fsync included: it is on the loop).
// Events are made as the daemon makes a first judgement (store/
// transition_event.cpp, then Store::record's id). glibc mallinfo2, one
// thread: the heap figures are exact.
// Usage: bench_store_queue [N=46000]
#include "bench/heap_in_use.hpp"
#include "store/queued_event.hpp"
#include "store/spool.hpp"
#include "store/transition_event.hpp"
#include "tests/support/process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

namespace {

using namespace healthsweep;
using store::Event;
using store::QueuedEvent;

using bench::heap_in_use;

Event first_judgement(std::size_t n) {
  sweeps::decide::Transition t;
  t.target = "hb-" + std::to_string(100000 + n);
  t.from = sweeps::decide::State::unknown;
  t.to = sweeps::decide::State::online;
  t.layer = sweeps::decide::Layer::passive;
  t.reason = "heartbeat present";
  t.at = std::chrono::steady_clock::now();
  t.wall = std::chrono::system_clock::now();
  t.observed_at = t.at - std::chrono::microseconds(1234);
  auto e = *store::event_of(t, nullptr);
  e.event_id = "0f3c9a6e21b84d7f95e0c1a2b3d4e5f6-" + std::to_string(n + 1);  // boot id - seq
  return e;
}

template <class Queue>
double heap_per_event(std::size_t n) {
  const auto before = heap_in_use();
  Queue q;
  for (std::size_t i = 0; i < n; ++i) q.emplace_back(first_judgement(i));
  return static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 46000;
  std::printf("# bench_store_queue: %zu first judgements queued\n", n);
  std::printf("sizeof(Event) %zu B, sizeof(QueuedEvent) %zu B\n", sizeof(Event), sizeof(QueuedEvent));
  const double as_events = heap_per_event<std::deque<Event>>(n);
  const double packed = heap_per_event<std::deque<QueuedEvent>>(n);
  std::printf("A. heap per queued event: packed %.1f B, as Events %.1f B (baseline), ratio %.2f; "
              "%zu events: %.1f vs %.1f MiB\n",
              packed, as_events, packed / as_events, n, packed * n / 1048576.0, as_events * n / 1048576.0);

  // B: a rewrite of the queue's second half: what compaction wrote, on the
  // loop, once as many events were written as waited (store/store.cpp, which
  // now also waits for 65,536 written events, so a start's queue drains
  // without any).
  std::deque<QueuedEvent> queue;
  for (std::size_t i = n / 2; i < n; ++i) queue.emplace_back(first_judgement(i));
  testing::TempDir dir;
  store::SpoolFile spool(dir.file("spool"));
  for (int round = 0; round < 3; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    spool.rewrite(queue);
    const double chunked_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    std::string text;  // before: the whole text first, then one write
    for (const auto& e : queue) text += store::to_spool_line(e) + "\n";
    const auto fd = ::open(dir.file("whole").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return 1;
    ::fsync(fd);
    ::close(fd);
    const double whole_ms = ms_since(t0);
    std::printf("B. rewrite of %zu events (round %d): largest buffer 64 KiB chunk vs %.1f MiB whole text "
                "(baseline), ratio %.4f; loop time %.1f vs %.1f ms\n",
                queue.size(), round + 1, static_cast<double>(text.capacity()) / 1048576.0,
                65536.0 / static_cast<double>(text.capacity()), chunked_ms, whole_ms);
  }
}
