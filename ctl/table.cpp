#include "ctl/table.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>

namespace healthsweep::ctl {

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add(std::vector<Cell> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string Table::render(bool colour) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].text.size());
  }
  std::string out;
  auto line = [&](auto cell_of) {
    for (std::size_t c = 0; c < headers_.size(); ++c) {
      const Cell cell = cell_of(c);
      out += paint(cell.text, cell.colour, colour);
      if (c + 1 < headers_.size()) out.append(width[c] - cell.text.size() + 3, ' ');
    }
    out += '\n';
  };
  line([&](std::size_t c) { return Cell{headers_[c]}; });
  for (const auto& row : rows_) line([&](std::size_t c) { return row[c]; });
  return out;
}

std::string format_age(std::chrono::milliseconds age) {
  using namespace std::chrono;
  if (age < 0ms) age = 0ms;
  if (age < 1s) return age.count() == 0 ? "0s" : std::to_string(age.count()) + "ms";
  const auto s = duration_cast<seconds>(age).count();
  auto two = [](long long big, const char* big_unit, long long small, const char* small_unit) {
    std::string out = std::to_string(big) + big_unit;
    if (small != 0) out += std::to_string(small) + small_unit;
    return out;
  };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return two(s / 60, "m", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "m");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  int field[6];
  const std::size_t at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
  const char sep[5] = {'-', '-', 'T', ':', ':'};
  for (int i = 0; i < 6; ++i) {
    const char* b = text.data() + at[i];
    auto [p, ec] = std::from_chars(b, b + len[i], field[i]);
    if (ec != std::errc{} || p != b + len[i]) return std::nullopt;
    if (i < 5 && text[at[i] + len[i]] != sep[i]) return std::nullopt;
  }
  long long millis = 0;
  std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2) return std::nullopt;
    rest.remove_prefix(1);
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] < '0' || rest[i] > '9') return std::nullopt;
      if (i < 3) millis = millis * 10 + (rest[i] - '0');
    }
    for (std::size_t i = rest.size(); i < 3; ++i) millis *= 10;
  }
  std::tm tm{};
  tm.tm_year = field[0] - 1900;
  tm.tm_mon = field[1] - 1;
  tm.tm_mday = field[2];
  tm.tm_hour = field[3];
  tm.tm_min = field[4];
  tm.tm_sec = field[5];
  const std::time_t t = timegm(&tm);
  if (t == -1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t) + std::chrono::milliseconds(millis);
}

std::string age_since(std::string_view rfc3339, std::chrono::system_clock::time_point now) {
  const auto t = parse_rfc3339(rfc3339);
  if (!t) return "-";
  return format_age(std::chrono::duration_cast<std::chrono::milliseconds>(now - *t));
}

std::string_view state_colour(std::string_view state) {
  if (state == "online") return "32";
  if (state == "suspect" || state == "restarting") return "33";
  if (state == "offline" || state == "quarantined") return "31";
  return {};
}

std::string_view status_colour(std::string_view status) {
  if (status == "ok") return "32";
  if (status == "stale") return "31";
  return {};
}

bool colour_wanted(int fd) {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  return ::isatty(fd) == 1;
}

std::string paint(std::string_view text, std::string_view colour, bool enabled) {
  if (!enabled || colour.empty()) return std::string(text);
  return "\x1b[" + std::string(colour) + "m" + std::string(text) + "\x1b[0m";
}

}  // namespace healthsweep::ctl
