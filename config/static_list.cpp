// targets.static a chunk at a time: the event pass that finds the items'
// lines, the blanking and the chunked reading (see static_list.hpp for why).
#include "config/static_list.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>

namespace healthsweep::config::detail {
namespace {

// Where a node sits in the schema, as far as the cut cares.
enum class Role { other, root, targets, static_list, static_item };

struct Frame {
  bool map = false;
  Role role = Role::other;
  bool in_static_list = false;  // the list or anything inside it
  bool expect_key = true;       // maps: the next node is a key
  std::string key;              // maps: the key of the value that comes next
};

// Follows the first document's events; the list is usable when nothing in
// the document could read differently once the list is cut out.
class OutlineHandler final : public YAML::EventHandler {
 public:
  explicit OutlineHandler(const std::string& yaml) : yaml_(yaml) {}

  std::vector<YAML::Mark> documents;

  std::optional<StaticListLines> static_list() && {
    if (!usable_ || !list_ended_ || list_.item_starts.empty()) return std::nullopt;
    return std::move(list_);
  }

  void OnDocumentStart(const YAML::Mark& mark) override { documents.push_back(mark); }
  void OnDocumentEnd() override {
    if (documents.size() == 1 && list_ended_ && !end_found_) {
      list_.end = yaml_.size();
      end_found_ = true;
    }
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (role_of_next(mark, anchor, "") == Role::static_item) usable_ = false;  // where its mark points is unsure
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    usable_ = false;  // a chunk would not know the anchor
    role_of_next(mark, YAML::NullAnchor, "");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    role_of_next(mark, anchor, tag, &value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    open(mark, tag, anchor, style, /*map=*/false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    open(mark, tag, anchor, style, /*map=*/true);
  }
  void OnMapEnd() override { close(); }

 private:
  bool looking() const { return documents.size() == 1; }

  // Places the node that starts at `mark` among its parent's children.
  Role role_of_next(const YAML::Mark& mark, YAML::anchor_t anchor, const std::string& tag,
                    const std::string* scalar = nullptr) {
    if (!looking()) return Role::other;
    if (anchor != YAML::NullAnchor) usable_ = false;  // an alias elsewhere may name it
    if (list_ended_ && !end_found_) {
      // The list's text ends at the start of the next node's line, which
      // must hold nothing before that node: a '?' or a tag there would be
      // blanked with the list. That node must be a plain key: an empty key
      // (": x") reads differently once the list is blanked (fuzz_config).
      if (const auto start = line_start(mark); start && scalar) list_.end = *start;
      else usable_ = false;
      end_found_ = true;
    }
    if (stack_.empty()) return Role::root;
    Frame& parent = stack_.back();
    // '?' and '!' are what yaml-cpp reports for untagged plain and quoted
    // nodes; any other tag inside the list could depend on a %TAG directive.
    if (parent.in_static_list && !tag.empty() && tag != "?" && tag != "!") usable_ = false;
    if (!parent.map) {
      if (parent.role != Role::static_list) return Role::other;
      if (!add_item(mark)) usable_ = false;
      return Role::static_item;
    }
    if (parent.expect_key) {
      parent.expect_key = false;
      parent.key = scalar ? *scalar : std::string();
      return Role::other;
    }
    parent.expect_key = true;
    // A key given twice is an error the one tree reports, and it reads the
    // first value: the cut must not read the second (fuzz_config found one).
    if (parent.role == Role::root && parent.key == "targets") return once(targets_found_, Role::targets);
    if (parent.role == Role::targets && parent.key == "static") return once(list_found_, Role::static_list);
    return Role::other;
  }

  Role once(bool& found, Role role) {
    if (found) usable_ = false;
    found = true;
    return role;
  }

  void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, YAML::EmitterStyle::value style,
            bool map) {
    const Role role = role_of_next(mark, anchor, tag);
    if (!looking()) return;
    const bool block = style != YAML::EmitterStyle::Flow;
    // The list is cut by lines: it and the maps around it must be block style.
    if ((role == Role::root || role == Role::targets) && (!map || !block)) usable_ = false;
    if (role == Role::static_list && (map || !block)) usable_ = false;
    const bool inside = !stack_.empty() && stack_.back().in_static_list;
    stack_.push_back(Frame{map, role, inside || role == Role::static_list, true, {}});
  }

  void close() {
    if (!looking() || stack_.empty()) return;
    if (stack_.back().role == Role::static_list) list_ended_ = true;
    stack_.pop_back();
  }

  // Where the line of `mark` starts, when the mark's column agrees with the
  // text, so a position counted in anything but bytes is never trusted.
  std::optional<std::size_t> line_of_mark(const YAML::Mark& mark) const {
    if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) > yaml_.size()) return std::nullopt;
    const std::size_t at = static_cast<std::size_t>(mark.pos);
    const std::size_t newline = at == 0 ? std::string::npos : yaml_.rfind('\n', at - 1);
    const std::size_t begin = newline == std::string::npos ? 0 : newline + 1;
    if (at - begin != static_cast<std::size_t>(mark.column)) return std::nullopt;
    return begin;
  }

  // The same, when only spaces come before the mark on its line.
  std::optional<std::size_t> line_start(const YAML::Mark& mark) const {
    const auto begin = line_of_mark(mark);
    if (!begin || yaml_.find_first_not_of(' ', *begin) < static_cast<std::size_t>(mark.pos)) return std::nullopt;
    return begin;
  }

  // The item's line: its '-' must be the first non-space of a line, with
  // only whitespace between the '-' and the value at `mark`.
  bool add_item(const YAML::Mark& mark) {
    if (!line_of_mark(mark) || mark.pos == 0) return false;
    std::size_t at = static_cast<std::size_t>(mark.pos);
    int line = mark.line;
    while (at > 0 && (yaml_[at - 1] == ' ' || yaml_[at - 1] == '\t' || yaml_[at - 1] == '\r' || yaml_[at - 1] == '\n')) {
      --at;
      if (yaml_[at] == '\n') --line;
    }
    if (at == 0 || yaml_[at - 1] != '-') return false;
    --at;
    while (at > 0 && yaml_[at - 1] == ' ') --at;
    if (at > 0 && yaml_[at - 1] != '\n') return false;
    list_.item_starts.push_back(at);
    list_.item_lines.push_back(line);
    return true;
  }

  const std::string& yaml_;
  std::vector<Frame> stack_;
  StaticListLines list_;
  bool usable_ = true;
  bool targets_found_ = false;
  bool list_found_ = false;
  bool list_ended_ = false;
  bool end_found_ = false;
};

// Offsets in yaml-cpp's marks are bytes only for plain UTF-8 (no BOM, no NUL:
// yaml-cpp takes those as UTF-16/32 and converts), and its lines are ours
// only without a lone '\r', which yaml-cpp counts as a line break too
// (fuzz_config found one).
bool marks_match_the_text(const std::string& yaml) {
  if (yaml.starts_with("\xEF\xBB\xBF") || yaml.find('\0') != std::string::npos) return false;
  for (std::size_t cr = yaml.find('\r'); cr != std::string::npos; cr = yaml.find('\r', cr + 1))
    if (cr + 1 == yaml.size() || yaml[cr + 1] != '\n') return false;
  return true;
}

}  // namespace

Outline outline_of(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  OutlineHandler handler(yaml);
  Outline outline;
  while (parser.HandleNextDocument(handler)) {
    const auto& marks = handler.documents;
    if (marks.size() >= 2 && marks[marks.size() - 1].pos == marks[marks.size() - 2].pos) {
      outline.repeats = true;
      break;
    }
    if (marks.size() > 2) break;  // enough to know there is more than one
  }
  outline.documents = handler.documents;
  if (outline.documents.size() == 1 && marks_match_the_text(yaml)) outline.static_list = std::move(handler).static_list();
  return outline;
}

std::string without_static_list(const std::string& yaml, const StaticListLines& list) {
  std::string rest = yaml;
  const auto begin = rest.begin() + static_cast<std::ptrdiff_t>(list.item_starts.front());
  const auto end = rest.begin() + static_cast<std::ptrdiff_t>(list.end);
  std::replace_if(begin, end, [](char c) { return c != '\n' && c != '\r'; }, ' ');
  return rest;
}

void for_each_static_item(Reader& reader, const std::string& yaml, const StaticListLines& list,
                          const std::string& list_name, const std::function<void(const Field&)>& read_item) {
  const std::size_t count = list.item_starts.size();
  for (std::size_t first = 0; first < count; first += static_chunk_items) {
    const std::size_t last = std::min(count, first + static_chunk_items);
    const std::size_t begin = list.item_starts[first];
    const std::size_t end = last < count ? list.item_starts[last] : list.end;
    YAML::Node chunk;
    try {
      chunk = YAML::Load(yaml.substr(begin, end - begin));
    } catch (const YAML::Exception& e) {  // its mark counts from the chunk: no use to the operator
      throw StaticListCutFailed("targets.static: a chunk does not parse: " + e.msg);
    }
    if (!chunk.IsSequence() || chunk.size() != last - first)
      throw StaticListCutFailed("targets.static: a chunk does not read as the outline found it");
    reader.set_line_offset(list.item_lines[first]);
    std::size_t index = first;
    for (const auto& item : chunk) {
      const YAML::Mark mark = item.Mark();
      read_item(Field{item, mark, list_name + "[" + std::to_string(index++) + "]", mark});
    }
    reader.set_line_offset(0);
  }
}

}  // namespace healthsweep::config::detail
