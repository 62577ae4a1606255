// Exact keyspace channels: with several instances each one subscribes to
// `__keyspace@<db>__:<key>` of the heartbeat keys it watches, instead of a
// pattern every instance shares (which makes Redis send every refresh's
// notifications to every instance: N x the traffic). Pure: channel names,
// the batches SUBSCRIBE/UNSUBSCRIBE carry, and what changes when the watched
// set does; the passive session (passive_channels.cpp) does the I/O.
#pragma once

#include "sweeps/passive/heartbeat_deadlines.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace healthsweep::sweeps::passive {

// "__keyspace@<db>__:" + the target's heartbeat key.
std::string keyspace_channel(std::string_view keyspace_prefix, const HeartbeatKeyPattern& keys, std::string_view id);

// The channels of `ids`, in order, cut into commands of at most `per_batch`
// names each (0 counts as 1): one round trip per batch, never one per key.
std::vector<std::vector<std::string>> channel_batches(std::string_view keyspace_prefix, const HeartbeatKeyPattern& keys,
                                                      const std::vector<std::string>& ids, std::size_t per_batch);

struct ChannelChanges {
  std::vector<std::string> subscribe;    // watched ids whose channel is not subscribed
  std::vector<std::string> unsubscribe;  // subscribed ids no longer watched
  bool empty() const { return subscribe.empty() && unsubscribe.empty(); }
};

// What to send to make the subscribed set the watched one. Duplicates in
// `watched` count once (Redis confirms every name of a SUBSCRIBE, even a
// repeated one, and the client counts confirmations per name).
ChannelChanges channel_changes(const std::unordered_set<std::string>& subscribed,
                               const std::vector<std::string>& watched);

}  // namespace healthsweep::sweeps::passive
