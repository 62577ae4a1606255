#include "store/spool_keeper.hpp"

#include "clients/net/log_failure.hpp"
#include "metrics/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>

namespace healthsweep::store {

namespace net = boost::asio;

SpoolKeeper::SpoolKeeper(net::any_io_executor ex, std::string dir, const std::deque<QueuedEvent>& queue,
                         metrics::Metrics& m, std::size_t memory_cap, SpoolSync::FlushFd flush_fd)
    : file_(std::move(dir)),
      queue_(queue),
      m_(m),
      memory_cap_(memory_cap),
      timer_(ex),
      flush_fd_(std::move(flush_fd)) {}

void SpoolKeeper::failed(const std::exception& x) {
  m_.spool_write_error();
  if (!failing_)
    spdlog::error("store: {}; events are kept in memory (at most {}) and written to the spool again "
                  "once it can be written (failures count in healthsweep_store_spool_write_errors_total)",
                  x.what(), memory_cap_);
  failing_ = true;
}

void SpoolKeeper::works() {
  if (failing_) spdlog::info("store: spool {} written again; {} events in it", path(), queue_.size());
  failing_ = behind_ = dropping_ = false;
}

bool SpoolKeeper::keep(const QueuedEvent& e) {
  if (!behind_) {
    try {
      file_.write(e);
      if (!sync_)
        sync_ = std::make_unique<SpoolSync>(
            timer_.get_executor(),
            [w = weak_from_this()](int error) {
              if (auto self = w.lock()) self->sync_failed(error);
            },
            flush_fd_);
      sync_->request(file_.append_fd(), file_.generation());
      works();
      return true;
    } catch (const std::exception& x) {
      failed(x);
      behind_ = true;
      respool_later();
    }
  }
  if (queue_.size() < memory_cap_) return true;
  m_.store_event_dropped();
  if (!dropping_)
    spdlog::error("store: the spool cannot be written and {} events wait in memory: dropping new events "
                  "(healthsweep_store_events_dropped_total) until it can", queue_.size());
  dropping_ = true;
  return false;
}

void SpoolKeeper::sync_failed(int error) {
  // The lines may not be on disk: rewrite the whole queue (fsync'd) until
  // that works, as after a failed write.
  failed(std::runtime_error("spool: cannot fsync " + path() + ": " + std::strerror(error)));
  behind_ = true;
  respool_later();
}

void SpoolKeeper::flush() {
  if (sync_) sync_->flush();
}

void SpoolKeeper::compact() {
  try {
    if (queue_.empty()) file_.clear();
    else file_.rewrite(queue_);
    works();
  } catch (const std::exception& x) {
    failed(x);  // harmless when not behind: written lines replay as no-ops
  }
}

void SpoolKeeper::respool_later() {
  if (respooling_ || stopped_) return;
  respooling_ = true;
  net::co_spawn(timer_.get_executor(), [self = shared_from_this()]() -> net::awaitable<void> {
    while (self->behind_ && !self->stopped_) {
      boost::system::error_code ec;
      self->timer_.expires_after(respool_every);
      co_await self->timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
      // After stop() the store (and its queue) may be gone.
      if (self->behind_ && !self->stopped_) self->compact();
    }
    self->respooling_ = false;
  }, clients::net::log_failure("store respool"));
}

void SpoolKeeper::stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace healthsweep::store
