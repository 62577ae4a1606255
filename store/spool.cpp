#include "store/spool.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace healthsweep::store {
namespace json = boost::json;

namespace {

std::runtime_error io_error(const std::string& what, const std::string& path) {
  return std::runtime_error("spool: " + what + " " + path + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename happened; only its durability is weaker
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string to_spool_line(const QueuedEvent& e) {
  json::object o;
  o["event_id"] = e.event_id();
  o["target"] = e.target();
  o["from"] = e.from_state();
  o["to"] = e.to_state();
  o["layer"] = e.layer();
  o["reason"] = e.reason();
  o["at_us"] = to_micros(e.at());
  o["detail"] = e.detail_json();
  o["restarts"] = e.restarts();
  o["quarantined"] = e.quarantined();
  o["removed"] = e.removed();
  json::array recent;
  for (const auto t : e.recent_restarts())
    recent.push_back(to_micros(t));
  o["recent_restarts_us"] = std::move(recent);
  if (!e.instance().empty()) {  // absent without a cluster section: lines as before
    o["instance"] = e.instance();
    o["epoch"] = e.epoch();
  }
  return json::serialize(o);
}

std::string to_spool_line(const Event& e) { return to_spool_line(QueuedEvent(e)); }

namespace {
// A time the clock can hold: microseconds beyond ±292 years would overflow
// system_clock's nanoseconds (a corrupt line, never one we wrote).
bool representable_us(const json::value& v) {
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 1000;
  return v.is_int64() && v.as_int64() < limit && v.as_int64() > -limit;
}
}  // namespace

std::optional<Event> from_spool_line(std::string_view line) {
  boost::system::error_code ec;
  const json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto str = [&](const char* k) -> const json::string* {
    const auto* p = o.if_contains(k);
    return p ? p->if_string() : nullptr;
  };
  Event e;
  const json::string* fields[] = {str("event_id"), str("target"), str("from"), str("to"),
                                  str("layer"),    str("reason"), str("detail")};
  for (const auto* f : fields)
    if (!f) return std::nullopt;
  const auto* at = o.if_contains("at_us");
  const auto* restarts = o.if_contains("restarts");
  const auto* quarantined = o.if_contains("quarantined");
  const auto* removed = o.if_contains("removed");
  if (!at || !representable_us(*at) || !restarts || !restarts->is_int64() || !quarantined ||
      !quarantined->is_bool() || !removed || !removed->is_bool())
    return std::nullopt;
  e.event_id = *fields[0];
  if (e.event_id.empty()) return std::nullopt;
  e.target = *fields[1];
  e.from_state = *fields[2];
  e.to_state = *fields[3];
  e.layer = *fields[4];
  e.reason = *fields[5];
  e.detail_json = *fields[6];
  e.at = from_micros(at->as_int64());
  e.restarts = static_cast<int>(restarts->as_int64());
  e.quarantined = quarantined->as_bool();
  e.removed = removed->as_bool();
  // Absent in spools written before it existed: no history, nothing lost.
  if (const auto* recent = o.if_contains("recent_restarts_us")) {
    const auto* list = recent->if_array();
    if (!list) return std::nullopt;
    for (const auto& us : *list) {
      if (!representable_us(us)) return std::nullopt;
      e.recent_restarts.push_back(from_micros(us.as_int64()));
    }
  }
  // Optional (a daemon without a cluster section writes neither), but an
  // instance always comes with its epoch: half a fencing token is corrupt.
  if (const auto* instance = o.if_contains("instance")) {
    const auto* name = instance->if_string();
    const auto* epoch = o.if_contains("epoch");
    if (!name || name->empty() || !epoch || !epoch->is_int64()) return std::nullopt;
    e.instance = *name;
    e.epoch = epoch->as_int64();
  } else if (o.contains("epoch")) {
    return std::nullopt;
  }
  return e;
}

SpoolContents parse_spool(std::string_view text) {
  SpoolContents out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    const bool complete = nl != std::string_view::npos;
    const auto line = text.substr(0, complete ? nl : text.size());
    text.remove_prefix(complete ? nl + 1 : text.size());
    if (!complete) out.needs_rewrite = true;
    if (line.empty()) continue;
    if (auto e = from_spool_line(line)) {
      out.events.push_back(std::move(*e));
    } else {
      out.needs_rewrite = true;
      out.warnings.push_back("line " + std::to_string(line_no) +
                             (complete ? " is not a spooled event" : " is torn (no newline)") +
                             "; skipped");
    }
  }
  return out;
}

SpoolFile::SpoolFile(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/events.jsonl") {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("spool: cannot create " + dir_ + ": " + ec.message());
}

SpoolFile::~SpoolFile() { close_append(); }

void SpoolFile::close_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::deque<Event> SpoolFile::load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  auto contents = parse_spool(text.str());
  for (const auto& w : contents.warnings) spdlog::warn("store: spool {}: {}", path_, w);
  if (contents.needs_rewrite) {
    try {
      rewrite(contents.events);
    } catch (const std::exception& x) {
      // A full disk at start must not stop the daemon: the torn line stays,
      // and the next append starts on a line of its own after it.
      spdlog::error("store: {}; the torn line stays in the file and is skipped again", x.what());
      const auto& t = text.view();
      needs_newline_ = !t.empty() && t.back() != '\n';
    }
  }
  return std::move(contents.events);
}

void SpoolFile::open_append() {
  if (fd_ >= 0) return;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw io_error("cannot open", path_);
  ++generation_;
}

void SpoolFile::append(const Event& e) {
  write(e);
  if (::fdatasync(fd_) != 0) throw io_error("cannot fsync", path_);
}

void SpoolFile::write(const Event& e) { write(QueuedEvent(e)); }

void SpoolFile::write(const QueuedEvent& e) {
  open_append();
  // Where the file ended: a failed write (disk full, I/O error) is cut back
  // to it, so no partial line is left for the next append to run into.
  const off_t end = ::lseek(fd_, 0, SEEK_END);
  try {
    write_all(fd_, (needs_newline_ ? "\n" : "") + to_spool_line(e) + "\n", path_);
    needs_newline_ = false;
  } catch (...) {
    // Failing that, the next append begins with a newline: the partial line
    // is one skipped line at load, and never takes the next event with it.
    if (end < 0 || ::ftruncate(fd_, end) != 0) needs_newline_ = true;
    throw;
  }
}

void SpoolFile::clear() {
  open_append();
  // O_APPEND: the next append lands at the new end, offset 0.
  if (::ftruncate(fd_, 0) != 0) throw io_error("cannot truncate", path_);
}

void SpoolFile::rewrite(const std::deque<Event>& events) { rewrite_from(events); }
void SpoolFile::rewrite(const std::deque<QueuedEvent>& events) { rewrite_from(events); }

template <class Events>
void SpoolFile::rewrite_from(const Events& events) {
  // Written a chunk at a time: the whole text first took 19 MiB at the peak
  // for a queue of 46,000 first judgements.
  constexpr std::size_t chunk = std::size_t{64} * 1024;
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw io_error("cannot create", tmp);
  try {
    std::string text;
    text.reserve(chunk + 1024);
    for (const auto& e : events) {
      text += to_spool_line(e);
      text += '\n';
      if (text.size() >= chunk) {
        write_all(fd, text, tmp);
        text.clear();
      }
    }
    write_all(fd, text, tmp);
    if (::fsync(fd) != 0) throw io_error("cannot fsync", tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());  // a partial copy would hold the space a full disk needs back
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const auto error = io_error("cannot rename", tmp);
    ::unlink(tmp.c_str());
    throw error;
  }
  close_append();  // the old descriptor points at the replaced file
  needs_newline_ = false;  // a new file, every line whole
  fsync_dir(dir_);
}

}  // namespace healthsweep::store
