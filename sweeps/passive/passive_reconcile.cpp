// Passive layer: the periodic reconciliation, spread over the interval
// (existence_batches.hpp says why EXISTS and not SCAN + PTTL). What it
// catches: a key deleted (or expired) while its notification was lost, and a
// key that appeared for a target not believed alive. The full reconciliation
// at the start of a session (SCAN + PTTL, passive_session.cpp) is unchanged:
// it learns every deadline before the first verdict.
#include "sweeps/passive/existence_batches.hpp"
#include "sweeps/passive/passive_layer_impl.hpp"

#include <spdlog/spdlog.h>

namespace healthsweep::sweeps::passive {

using namespace healthsweep::clients::redis;

namespace net = boost::asio;
using boost::system::error_code;

void PassiveLayer::Impl::check_existence(std::shared_ptr<const ExistenceBatch> batch) {
  std::vector<std::string> keys_of;
  keys_of.reserve(batch->ids.size() + 1);
  keys_of.emplace_back("EXISTS");
  for (const auto& id : batch->ids) keys_of.push_back(keys.key(id));
  const std::vector<std::string_view> args(keys_of.begin(), keys_of.end());
  cmd->send(args, [w = weak_from_this(), batch](error_code ec, const RedisReply& r) {
    auto s = w.lock();
    if (!s || s->stopping || ec) return;  // a lost connection is the session loop's business
    if (r.type != RedisReply::Type::integer) {
      s->source_error(std::string("EXISTS answered ") + (r.is_error() ? r.str : std::string("a non-integer")));
      return;
    }
    if (!existence_mismatch(*batch, r.integer)) return;
    // Which key differs, and what it means, is the tracker's call.
    for (const auto& id : batch->ids)
      if (s->tracker.watched(id)) s->query_pttl(id);
  });
}

net::awaitable<bool> PassiveLayer::Impl::spread_reconcile() {
  const auto t0 = Clock::now();
  // The batches of a step are built at that step, a slice of the slots.
  const auto per_batch = std::max<std::size_t>(opts.exists_batch, 1);
  const auto slots = tracker.slot_end();
  const auto pace = pass_pacing((slots + per_batch - 1) / per_batch, cfg.reconcile_interval / 2, opts.reconcile_steps);
  const auto slots_per_step = pace.batches_per_step * per_batch;
  std::size_t batches = 0;
  bool ok = true;
  std::string why;
  for (std::size_t at = 0; at < slots; at += slots_per_step) {
    turn();
    for (auto& batch : existence_batches(tracker, at, at + slots_per_step, per_batch)) {
      check_existence(std::make_shared<const ExistenceBatch>(std::move(batch)));
      ++batches;
    }
    // Answered after every EXISTS above: one step in flight at a time.
    std::vector<std::string> ping{"PING"};
    const auto r = co_await cmd->command(std::move(ping));
    if (stopping || link_lost || restart_requested || r.ec || r.reply.is_error()) {
      ok = false;
      why = r.ec ? cmd->last_error() : r.reply.is_error() ? r.reply.str : "interrupted";
      break;
    }
    if (at + slots_per_step < slots) co_await sleep_for(pace.pause);
    if (stopping || link_lost || restart_requested) {
      ok = false;
      why = "interrupted";
      break;
    }
  }
  if (ok) ok = check_probe(why);
  if (stopping) co_return false;
  const auto seconds = reconciled(t0, ok, why);
  if (ok)
    spdlog::debug("passive: checked {} heartbeat keys in {} batches over {:.1f} ms", tracker.size(), batches,
                  seconds * 1e3);
  co_return ok;
}

}  // namespace healthsweep::sweeps::passive
