// Internal to config/: targets.static read a chunk of items at a time.
//
// A fleet's config can list 100,000 static targets. yaml-cpp's tree of such a
// list costs about 1 KiB an item: 96 MiB held at once, at startup and again on
// every reload, for values that take a tenth of that. So one event pass (no
// nodes built) finds the line each item starts on; the document is loaded
// with the list's lines blanked out, and the list itself `static_chunk_items`
// items at a time, each chunk from its own lines of the text. Whatever the
// line-based cut could read differently from the whole document (anchors,
// aliases, tags inside the list, flow style around it, a comment between an
// item's '-' and its value, an empty item, text that is not plain UTF-8) keeps
// the one-tree load.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/reader.hpp"

namespace healthsweep::config::detail {

inline constexpr std::size_t static_chunk_items = 1024;

// Where targets.static's items are in the text. Each item's '-' is the first
// non-space of its line; the list's text runs from the first item's line to
// `end` (the next node's position, or the end of the text).
struct StaticListLines {
  std::vector<std::size_t> item_starts;  // offset of each item's line
  std::vector<int> item_lines;           // that line, counted from 0
  std::size_t end = 0;
};

// What one event pass over the text found.
struct Outline {
  std::vector<YAML::Mark> documents;  // where each document starts (at most 3 are looked at)
  // yaml-cpp 0.7 starts an empty document at the same token again and again
  // on a stray ',' at the top level (LoadAll loops forever, allocating);
  // the pass stops at the repeat, which is the last of `documents`.
  bool repeats = false;
  std::optional<StaticListLines> static_list;  // nullopt: load the one tree
};

// Throws what yaml-cpp's parser throws on a syntax error.
Outline outline_of(const std::string& yaml);

// The text with the list's lines blanked (newlines kept, so every other mark
// stays where it was): `static:` reads as null in what is left.
std::string without_static_list(const std::string& yaml, const StaticListLines& list);

// A chunk that does not read as the outline said; the caller loads the one tree.
struct StaticListCutFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Calls `read_item` for each item with the Field Section::list would give it
// ("<list_name>[i]"). While a chunk is read, the reader's line offset puts its
// marks back on the file's lines.
void for_each_static_item(Reader& reader, const std::string& yaml, const StaticListLines& list,
                          const std::string& list_name, const std::function<void(const Field&)>& read_item);

}  // namespace healthsweep::config::detail
