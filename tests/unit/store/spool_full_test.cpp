// The spool when its file cannot be written (issue 13 section 4, "the
// spool's disk fills"): a failed append leaves no partial line, a failed
// rewrite leaves the file as it was and no temp file holding space, and the
// Store keeps events in a bounded memory queue until the spool can be written
// again. The write failures are real: RLIMIT_FSIZE (EFBIG, SIGXFSZ ignored)
// on this process, lowered just past the file's size.
#include "metrics/liveness.hpp"
#include "metrics/metrics.hpp"
#include "store/spool.hpp"
#include "store/store.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <regex>

namespace healthsweep::store {
namespace {
using healthsweep::testing::read_file;
using healthsweep::testing::TempDir;
using namespace std::chrono_literals;

Event numbered(int n) {
  Event e;
  e.event_id = "full-" + std::to_string(n);
  e.target = "t-" + std::to_string(n % 3);
  e.from_state = "online";
  e.to_state = "offline";
  e.layer = "proactive";
  e.reason = std::string(100, 'r');  // ~360 bytes a line
  e.at = std::chrono::system_clock::time_point(std::chrono::seconds(1764134400 + n));
  return e;
}

off_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Files of this process cannot grow past `bytes` while it lives.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() { lift(); }
  void lift() {
    if (lifted_) return;
    lifted_ = true;
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
  bool lifted_ = false;
};

// Every line of the file is a whole event; their ids in order.
std::vector<std::string> ids_in(const std::string& path) {
  const auto contents = parse_spool(read_file(path));
  EXPECT_TRUE(contents.warnings.empty()) << read_file(path);
  EXPECT_FALSE(contents.needs_rewrite) << "a partial line";
  std::vector<std::string> ids;
  for (const auto& e : contents.events) ids.push_back(e.event_id);
  return ids;
}

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int n = from; n < to; ++n) out.push_back(numbered(n).event_id);
  return out;
}

double sample(metrics::Metrics& m, const std::string& series) {
  metrics::LivenessRegistry live;
  const auto text = m.scrape(live);
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("\n" + series + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(match[1]);
}

}  // namespace

TEST(StoreSpoolFull, AFailedAppendLeavesNoPartialLineAndTheNextAppendIsWhole) {
  TempDir dir;
  SpoolFile spool(dir.file("spool"));
  spool.append(numbered(0));
  const auto before = size_of(spool.path());
  {
    FileSizeLimit limit(static_cast<rlim_t>(before) + 100);  // a third of the next line fits
    EXPECT_THROW(spool.append(numbered(1)), std::runtime_error);
    EXPECT_EQ(size_of(spool.path()), before) << "the partial line is cut back";
  }
  spool.append(numbered(2));
  EXPECT_EQ(ids_in(spool.path()), (std::vector<std::string>{"full-0", "full-2"}));
}

TEST(StoreSpoolFull, AFailedRewriteLeavesTheFileAsItWasAndNoTempFile) {
  TempDir dir;
  SpoolFile spool(dir.file("spool"));
  for (int n = 0; n < 3; ++n) spool.append(numbered(n));
  const auto before = read_file(spool.path());
  {
    FileSizeLimit limit(static_cast<rlim_t>(before.size()));
    std::deque<Event> more;
    for (int n = 0; n < 6; ++n) more.push_back(numbered(n));
    EXPECT_THROW(spool.rewrite(more), std::runtime_error);
  }
  EXPECT_EQ(read_file(spool.path()), before);
  EXPECT_FALSE(std::filesystem::exists(spool.path() + ".tmp")) << "its space is given back";
}

TEST(StoreSpoolFull, StoreKeepsEventsInMemoryAndPutsThemBackInTheSpoolWhenItCanBeWritten) {
  TempDir dir;
  boost::asio::io_context ioc;
  metrics::Metrics m("test");
  metrics::LivenessRegistry live;
  // Never started: PostgreSQL plays no part, every event stays queued.
  Store store(ioc.get_executor(), "host=127.0.0.1 port=1", dir.file("spool"), m, live);
  const std::string path = dir.file("spool/events.jsonl");
  store.record(numbered(0));
  FileSizeLimit limit(static_cast<rlim_t>(size_of(path)) + 500);  // one more line fits, not two
  for (int n = 1; n < 10; ++n) store.record(numbered(n));
  EXPECT_EQ(store.spooled(), 10u) << "none dropped";
  EXPECT_EQ(ids_in(path), ids(0, 2)) << "whole lines only, in order";
  EXPECT_EQ(sample(m, "healthsweep_store_spool_write_errors_total"), 1) << "appends stop after a failure";
  // Still full: the rewrite every second fails, and is counted.
  for (int i = 0; i < 300 && sample(m, "healthsweep_store_spool_write_errors_total") < 2; ++i)
    ioc.run_for(10ms);
  EXPECT_EQ(sample(m, "healthsweep_store_spool_write_errors_total"), 2);
  EXPECT_EQ(ids_in(path), ids(0, 2));
  limit.lift();
  for (int i = 0; i < 300 && ids_in(path).size() < 10; ++i) ioc.run_for(10ms);
  EXPECT_EQ(ids_in(path), ids(0, 10)) << "the events kept in memory are on disk again, in order";
  store.record(numbered(10));
  EXPECT_EQ(ids_in(path), ids(0, 11)) << "appends go on";
  EXPECT_EQ(sample(m, "healthsweep_store_events_dropped_total"), 0);
}

TEST(StoreSpoolFull, TheMemoryQueueIsBoundedWhileTheSpoolCannotBeWritten) {
  TempDir dir;
  boost::asio::io_context ioc;
  metrics::Metrics m("test");
  metrics::LivenessRegistry live;
  Store store(ioc.get_executor(), "host=127.0.0.1 port=1", dir.file("spool"), m, live, 60s, 4);
  const std::string path = dir.file("spool/events.jsonl");
  store.record(numbered(0));
  {
    FileSizeLimit limit(static_cast<rlim_t>(size_of(path)));
    for (int n = 1; n < 8; ++n) store.record(numbered(n));
    EXPECT_EQ(store.spooled(), 4u);
    EXPECT_EQ(sample(m, "healthsweep_store_events_dropped_total"), 4);
  }
  for (int i = 0; i < 300 && ids_in(path).size() < 4; ++i) ioc.run_for(10ms);
  EXPECT_EQ(ids_in(path), ids(0, 4)) << "the oldest are kept: the order has no hole before them";
  store.record(numbered(8));
  EXPECT_EQ(store.spooled(), 5u) << "the bound applies only while the spool cannot be written";
}

}  // namespace healthsweep::store
