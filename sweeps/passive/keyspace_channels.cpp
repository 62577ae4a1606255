#include "sweeps/passive/keyspace_channels.hpp"

#include <algorithm>

namespace healthsweep::sweeps::passive {

std::string keyspace_channel(std::string_view keyspace_prefix, const HeartbeatKeyPattern& keys, std::string_view id) {
  std::string channel(keyspace_prefix);
  channel += keys.key(id);
  return channel;
}

std::vector<std::vector<std::string>> channel_batches(std::string_view keyspace_prefix, const HeartbeatKeyPattern& keys,
                                                      const std::vector<std::string>& ids, std::size_t per_batch) {
  per_batch = std::max<std::size_t>(per_batch, 1);
  std::vector<std::vector<std::string>> out;
  out.reserve((ids.size() + per_batch - 1) / per_batch);
  for (std::size_t at = 0; at < ids.size(); at += per_batch) {
    auto& batch = out.emplace_back();
    const auto end = std::min(ids.size(), at + per_batch);
    batch.reserve(end - at);
    for (std::size_t i = at; i < end; ++i) batch.push_back(keyspace_channel(keyspace_prefix, keys, ids[i]));
  }
  return out;
}

ChannelChanges channel_changes(const std::unordered_set<std::string>& subscribed,
                               const std::vector<std::string>& watched) {
  ChannelChanges out;
  std::unordered_set<std::string_view> wanted;
  wanted.reserve(watched.size());
  for (const auto& id : watched)
    if (wanted.insert(id).second && !subscribed.contains(id)) out.subscribe.push_back(id);
  for (const auto& id : subscribed)
    if (!wanted.contains(id)) out.unsubscribe.push_back(id);
  return out;
}

}  // namespace healthsweep::sweeps::passive
