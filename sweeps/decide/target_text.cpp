#include "sweeps/decide/target_text.hpp"

namespace healthsweep::sweeps::decide {

void Text::free_node(Node* node) noexcept { node->pool->erase(node); }

TextPool::~TextPool() {
  // Handles must not outlive their pool; whatever is left is freed here.
  for (auto& [key, node] : index_) delete node;
}

Text TextPool::intern(std::string_view text) {
  text = truncate_utf8(text, max_length);
  if (text.empty()) return Text();
  if (auto it = index_.find(text); it != index_.end()) return Text(it->second);
  auto node = std::make_unique<Text::Node>();
  node->text.assign(text);
  node->pool = this;
  Text::Node* raw = node.release();
  index_.emplace(std::string_view(raw->text), raw);
  return Text(raw);
}

void TextPool::erase(Text::Node* node) noexcept {
  index_.erase(std::string_view(node->text));
  delete node;
}

std::string_view truncate_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  // Step back over continuation bytes (10xxxxxx) so a sequence is never split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace healthsweep::sweeps::decide
