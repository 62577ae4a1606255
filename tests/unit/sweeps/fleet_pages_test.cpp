// GET /admin/targets at fleet size: the state filter, and pages in id order
// (`after` exclusive, `next` only when more follow) that together list every
// target exactly once, whatever order the targets were added in.
#include "sweeps/fleet.hpp"

#include <gtest/gtest.h>

#include <functional>

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

// The whole list in stretches (the unpaged answer, built between turns of
// the loop): every target once, the filter applied, and a target removed
// between two stretches is simply not listed.
std::vector<std::string> in_stretches(const Fleet& fleet, std::optional<State> state, std::size_t stretch,
                                      const std::function<void()>& between = {}) {
  std::string json = "[";
  std::optional<std::size_t> at = 0;
  while ((at = fleet.append_targets(json, state, *at, stretch)))
    if (between) between();
  json.push_back(']');
  return ids_of(json);
}

TEST(FleetPages, TheUnpagedListInStretchesHasEveryTargetOnceAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back("ws-" + std::to_string(i + 100));
  PagedFleet f(ids);
  auto got = in_stretches(*f.fleet, std::nullopt, 4);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, ids);
  EXPECT_TRUE(in_stretches(*f.fleet, State::online, 4).empty());
  f.fleet->submit(Evidence{"ws-117", Layer::proactive, Verdict::alive, "running", true,
                           std::chrono::steady_clock::now()});
  f.ioc.poll();
  EXPECT_EQ(in_stretches(*f.fleet, State::online, 3), std::vector<std::string>{"ws-117"});
  EXPECT_EQ(in_stretches(*f.fleet, State::unknown, 1000).size(), 24u);

  std::string empty = "[";
  PagedFleet none({});
  EXPECT_FALSE(none.fleet->append_targets(empty, std::nullopt, 0, 4));
  EXPECT_EQ(empty, "[");
}

TEST(FleetPages, ATargetRemovedBetweenStretchesIsNotListedAndTheRestAre) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back("ws-" + std::to_string(i + 100));
  PagedFleet f(ids);
  bool removed = false;
  auto got = in_stretches(*f.fleet, std::nullopt, 4, [&] {
    if (removed) return;
    removed = true;
    std::vector<TargetSpec> fewer;
    for (const auto& id : ids)
      if (id != "ws-111") {
        TargetSpec spec;
        spec.id = id;
        fewer.push_back(spec);
      }
    f.fleet->replace_source(TargetSources::static_source, fewer);
  });
  std::sort(got.begin(), got.end());
  auto expected = ids;
  expected.erase(std::find(expected.begin(), expected.end(), "ws-111"));
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace healthsweep::sweeps
