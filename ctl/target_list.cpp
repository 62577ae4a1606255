#include "ctl/target_list.hpp"

#include <boost/url/url.hpp>

#include <set>

namespace healthsweep::ctl {

std::optional<boost::json::array> fetch_targets(const Context& ctx, const std::string& state, ExitCode& code) {
  boost::urls::url first;
  first.set_path("/admin/targets");
  if (!state.empty()) first.params().append({"state", state});
  if (ctx.options.chunk_size > 0) first.params().append({"limit", std::to_string(ctx.options.chunk_size)});

  boost::json::array all;
  std::set<std::string> asked;  // a Link back to a page already read would loop forever
  std::optional<std::string> page = std::string(first.buffer());
  while (page) {
    if (!asked.insert(*page).second) {
      code = ctx.fail(ExitCode::failed, "the daemon's next page " + *page + " was read already");
      return std::nullopt;
    }
    const Reply reply = ctx.admin.get(*page);
    if (!reply.success()) {
      code = ctx.fail(reply);
      return std::nullopt;
    }
    auto body = ctx.json_body(reply);
    if (!body || !body->is_array()) {
      code = body ? ctx.fail(ExitCode::failed, "the daemon's answer is not a JSON array") : ExitCode::failed;
      return std::nullopt;
    }
    for (auto& t : body->as_array()) all.push_back(std::move(t));
    page = next_link(reply.link);
  }
  return all;
}

}  // namespace healthsweep::ctl
