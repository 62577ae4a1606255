// GET /admin/targets at fleet size: the state filter, and pages in id order
// (`after` exclusive, `next` only when more follow) that together list every
// target exactly once, whatever order the targets were added in.
#include "sweeps/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "metrics/metrics.hpp"
#include "sweeps/decide/state_machine.hpp"
#include "sweeps/target_sources.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
namespace {

std::vector<std::string> ids_of(const std::string& json) {
  std::vector<std::string> out;
  const auto parsed = boost::json::parse(json);  // outlives the loop over its array
  for (const auto& v : parsed.as_array())
    out.emplace_back(v.as_object().at("id").as_string());
  return out;
}

struct PagedFleet {
  boost::asio::io_context ioc;
  metrics::Metrics metrics{"test"};
  config::Config cfg;
  std::unique_ptr<Fleet> fleet;
  explicit PagedFleet(const std::vector<std::string>& ids) {
    fleet = std::make_unique<Fleet>(ioc.get_executor(), cfg, metrics);
    std::vector<TargetSpec> specs;
    for (const auto& id : ids) {
      TargetSpec s;
      s.id = id;
      specs.push_back(s);
    }
    fleet->replace_source(TargetSources::static_source, specs);
  }
  ~PagedFleet() { fleet->stop(); }
};

TEST(FleetPages, PagesInIdOrderListEveryTargetOnce) {
  // Added in a scrambled order: the slot order is not the id order.
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("ws-" + std::to_string((i * 7) % 25 + 100));
  PagedFleet f(ids);
  std::vector<std::string> seen;
  std::optional<std::string> after;
  int pages = 0;
  do {
    auto page = f.fleet->targets_page(std::nullopt, after, 10);
    auto got = ids_of(page.json);
    EXPECT_LE(got.size(), 10u);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    seen.insert(seen.end(), got.begin(), got.end());
    if (page.next) {
      EXPECT_EQ(*page.next, got.back());
    }
    after = page.next;
    ++pages;
  } while (after && pages < 10);
  EXPECT_EQ(pages, 3);
  auto expected = ids;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

TEST(FleetPages, AnExactlyFullLastPageHasNoNext) {
  PagedFleet f({"a", "b", "c", "d"});
  auto page = f.fleet->targets_page(std::nullopt, std::string_view("b"), 2);
  EXPECT_EQ(ids_of(page.json), (std::vector<std::string>{"c", "d"}));
  EXPECT_FALSE(page.next);
}

TEST(FleetPages, StateFiltersAndAnUnpagedAnswerHasEveryTarget) {
  PagedFleet f({"a", "b", "c"});
  EXPECT_EQ(ids_of(f.fleet->targets_page(State::online, std::nullopt, 0).json).size(), 0u);
  EXPECT_EQ(ids_of(f.fleet->targets_page(State::unknown, std::nullopt, 0).json).size(), 3u);
  f.fleet->submit(Evidence{"b", Layer::proactive, Verdict::alive, "running", true,
                           std::chrono::steady_clock::now()});
  f.ioc.poll();
  EXPECT_EQ(ids_of(f.fleet->targets_page(State::online, std::nullopt, 0).json),
            std::vector<std::string>{"b"});
  EXPECT_EQ(ids_of(f.fleet->targets_page(State::unknown, std::nullopt, 0).json).size(), 2u);
  EXPECT_FALSE(f.fleet->targets_page(std::nullopt, std::nullopt, 0).next);
}

}  // namespace
}  // namespace healthsweep::sweeps
