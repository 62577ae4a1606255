// Interned, reference-counted reason strings for target records.
//
// A fleet of 100,000 targets repeats the same few reasons ("heartbeat
// expired", "container running") over and over; each record holds 8-byte
// handles into one pool instead of its own copies. A text nobody refers to
// any more is freed, so reasons that carry variable detail (an exit code, an
// HTTP error) do not accumulate. Single-threaded, like the state machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <boost/unordered/unordered_flat_map.hpp>

namespace healthsweep::sweeps::decide {

class TextPool;

class Text {
 public:
  Text() = default;
  Text(const Text& other) noexcept : node_(other.node_) { retain(); }
  Text(Text&& other) noexcept : node_(other.node_) { other.node_ = nullptr; }
  Text& operator=(const Text& other) noexcept {
    Text copy(other);  // retain first: safe when both refer to the same node
    std::swap(node_, copy.node_);
    return *this;
  }
  Text& operator=(Text&& other) noexcept {
    std::swap(node_, other.node_);  // other releases ours
    return *this;
  }
  ~Text() { release(); }

  std::string_view view() const { return node_ ? std::string_view(node_->text) : std::string_view(); }
  bool empty() const { return node_ == nullptr; }  // the pool never interns ""
  friend bool operator==(const Text& a, const Text& b) { return a.node_ == b.node_; }

 private:
  friend class TextPool;
  struct Node {
    std::string text;
    std::uint32_t refs = 0;
    TextPool* pool = nullptr;
  };
  explicit Text(Node* node) noexcept : node_(node) { retain(); }
  void retain() noexcept {
    if (node_) ++node_->refs;
  }
  void release() noexcept {
    if (node_ && --node_->refs == 0) free_node(node_);
    node_ = nullptr;
  }
  static void free_node(Node* node) noexcept;
  Node* node_ = nullptr;
};

class TextPool {
 public:
  // Reasons longer than this are cut (at a UTF-8 boundary) when interned:
  // a target record stays small whatever a layer puts into a reason.
  static constexpr std::size_t max_length = 200;

  TextPool() = default;
  TextPool(const TextPool&) = delete;
  TextPool& operator=(const TextPool&) = delete;
  ~TextPool();

  Text intern(std::string_view text);
  std::size_t size() const { return index_.size(); }

 private:
  friend class Text;
  void erase(Text::Node* node) noexcept;
  // Keys view the node's own string, which never moves.
  boost::unordered_flat_map<std::string_view, Text::Node*, std::hash<std::string_view>> index_;
};

// `text` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view truncate_utf8(std::string_view text, std::size_t max);

}  // namespace healthsweep::sweeps::decide
