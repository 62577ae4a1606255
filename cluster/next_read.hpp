// When the renew loop reads the member list next (issue 14, takeover speed).
// At rest, every renew_every: its renewal is the read. A peer that stops
// renewing is noticed at the moment its lease runs out, not at the next
// renewal after that (up to renew_every later): the loop reads again when the
// earliest live peer's lease is due to expire, as PostgreSQL computed it in
// the same read (`expires_at - now()`, so the hosts' clocks never meet).
// A live peer renews every renew_every and its lease (at least three of
// them) stays more than one renew_every ahead, so at rest that moment is
// always after the next renewal: no statement is added until a peer fails.
#pragma once

#include <chrono>
#include <span>
#include <string_view>

#include "cluster/membership.hpp"

namespace healthsweep::cluster {

// Past a peer's expiry, so the read finds it expired (not live for 1 ms more).
inline constexpr std::chrono::milliseconds past_expiry{5};
// Never two reads closer than this (a peer whose lease PostgreSQL keeps
// reporting as about to expire must not make the loop spin).
inline constexpr std::chrono::milliseconds min_read_gap{20};

// How long after a read's answer arrived the loop reads again: renew_every,
// or sooner, just past the earliest live peer's expiry (its expires_in_ms,
// relative to PostgreSQL's now() of that read, which is no later than the
// answer's arrival: the wait errs late by the statement's return trip).
// `self`'s own row is left out: its renewal is the loop's own business.
std::chrono::milliseconds next_read_after(std::span<const Member> members, std::string_view self,
                                          std::chrono::milliseconds renew_every);

}  // namespace healthsweep::cluster
