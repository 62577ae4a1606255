// Every target object of GET /admin/targets, read in pages of
// options.chunk_size (?limit=N, then the Link rel="next" the daemon names),
// so a large fleet never holds the daemon's loop in one long answer. A daemon
// that does not page answers everything at once without a Link: one request.
#pragma once

#include <boost/json/array.hpp>

#include <optional>
#include <string>

#include "ctl/commands.hpp"

namespace healthsweep::ctl {

// nullopt when a page failed (its message printed, `code` set).
std::optional<boost::json::array> fetch_targets(const Context& ctx, const std::string& state, ExitCode& code);

}  // namespace healthsweep::ctl
