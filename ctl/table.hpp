// Text output for people: aligned columns like `kubectl get`, ages like
// "5m3s", and ANSI colour for states only when stdout is a terminal.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace healthsweep::ctl {

struct Cell {
  std::string text;
  std::string_view colour{};  // an SGR code ("32" green); empty: none
};

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add(std::vector<Cell> row);
  std::size_t size() const { return rows_.size(); }
  // Columns padded to their widest cell, three spaces apart; the last column
  // unpadded. Colour codes wrap a cell's text but do not count in its width.
  std::string render(bool colour) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<Cell>> rows_;
};

// "850ms", "42s", "5m3s", "3h7m", "2d4h"; negative (a clock ahead of ours) is "0s".
std::string format_age(std::chrono::milliseconds age);

// RFC 3339 UTC as the daemon writes it: "2026-11-23T10:00:00Z" or with
// fractional seconds ("...00.123Z"). nullopt on anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// The age of an RFC 3339 time relative to `now`, or "-" when it is not one.
std::string age_since(std::string_view rfc3339, std::chrono::system_clock::time_point now);

// SGR colours: states (online green, suspect/restarting yellow,
// offline/quarantined red, paused/unknown none) and subsystem statuses.
std::string_view state_colour(std::string_view state);
std::string_view status_colour(std::string_view status);

// Colour on `fd` when it is a terminal and NO_COLOR is not set (no-color.org:
// present and not empty).
bool colour_wanted(int fd);

std::string paint(std::string_view text, std::string_view colour, bool enabled);

}  // namespace healthsweep::ctl
