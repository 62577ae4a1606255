// Passive layer with exact keyspace channels (PassiveOptions::exact_channels):
// the pub/sub connection subscribes to the channel of each watched key, in
// batches, at the start of every session and then whenever set_targets
// changes the watched set. The pure part is keyspace_channels.hpp.
//
// Why UNSUBSCRIBE is safe with hiredis 0.14 here: it routes every pub/sub
// reply through a table keyed by channel name, filled when SUBSCRIBE is sent
// and emptied when an unsubscribe confirmation comes. Two things would break
// it, and neither happens: (1) a confirmation whose count is 0 ends its
// subscribed mode (the next message then aborts it) -- the probe channel is
// never unsubscribed, so the count never reaches 0 (and the link refuses
// such a reply, link.hpp); (2) subscribing a channel again while its
// unsubscribe confirmation is still on the way would lose that channel's
// messages when the late confirmation empties its entry -- so after sending
// UNSUBSCRIBEs we await a SUBSCRIBE of the probe channel, which Redis answers
// after every confirmation before it, before subscribing anything.
// Messages of a channel whose UNSUBSCRIBE is in flight are ignored: the
// target is no longer watched (on_message).
#include "sweeps/passive/keyspace_channels.hpp"
#include "sweeps/passive/passive_layer_impl.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace healthsweep::sweeps::passive {

namespace net = boost::asio;
using boost::system::error_code;

bool PassiveLayer::Impl::subscriptions_current(std::uint64_t my_session) const {
  return !stopping && session == my_session && notifications && !link_lost && !restart_requested && sub &&
         sub->connected();
}

// The probe first (a refusal of SUBSCRIBE shows there), then every watched
// key's channel: all subscribed before the session's first reconciliation,
// so that no refresh after it goes unseen.
net::awaitable<error_code> PassiveLayer::Impl::subscribe_watched() {
  if (const auto ec = co_await sub->subscribe(probe_channel)) co_return ec;
  const auto ids = tracker.ids();
  co_return co_await subscribe_ids(ids);
}

net::awaitable<error_code> PassiveLayer::Impl::subscribe_ids(const std::vector<std::string>& ids) {
  auto batches = channel_batches(keyspace_prefix, keys, ids, opts.channels_per_command);
  std::size_t at = 0;
  for (auto& batch : batches) {
    const auto n = batch.size();
    for (std::size_t i = at; i < at + n; ++i) subscribed_ids.insert(ids[i]);
    at += n;
    turn();  // 100,000 channels are 100 commands, each one bounded wait
    if (const auto ec = co_await sub->subscribe(std::move(batch))) co_return ec;
    if (stopping) co_return net::error::operation_aborted;
  }
  co_return error_code{};
}

net::awaitable<void> PassiveLayer::Impl::keep_subscriptions(std::uint64_t my_session) {
  auto self = shared_from_this();  // alive until this coroutine ends
  while (subscriptions_current(my_session)) {
    const auto changes = channel_changes(subscribed_ids, tracker.ids());
    if (changes.empty()) {
      resubscribe.expires_at(Clock::time_point::max());
      error_code ignored;
      co_await resubscribe.async_wait(net::redirect_error(net::use_awaitable, ignored));
      continue;
    }
    error_code ec;
    if (!changes.unsubscribe.empty()) {
      for (const auto& batch : channel_batches(keyspace_prefix, keys, changes.unsubscribe, opts.channels_per_command))
        sub->unsubscribe(batch);
      for (const auto& id : changes.unsubscribe) subscribed_ids.erase(id);
      // The barrier: answered after every unsubscribe confirmation above.
      std::vector<std::string> probe{probe_channel};
      ec = co_await sub->subscribe(std::move(probe));
    }
    if (!ec && subscriptions_current(my_session)) ec = co_await subscribe_ids(changes.subscribe);
    if (stopping || session != my_session) co_return;
    if (ec || !subscriptions_current(my_session)) {
      // A refusal (ACL on some channels) closed the connection quietly: the
      // next session subscribes again, or carries on without notifications.
      if (ec) source_error("keyspace channel subscription failed: " + (sub ? sub->last_error() : ec.message()));
      co_return;
    }
    spdlog::debug("passive: keyspace channels: {} subscribed, {} unsubscribed ({} in all)", changes.subscribe.size(),
                  changes.unsubscribe.size(), subscribed_ids.size());
    // New targets' keys, looked up now that a refresh of theirs is seen.
    for (const auto& id : changes.subscribe)
      if (tracker.watched(id)) lookups.insert(id);
    schedule_lookups();
  }
}

}  // namespace healthsweep::sweeps::passive
