// A JSON document parsed into a buffer on the stack, for the small
// documents the loop parses thousands of times a second (an engine inspect
// or event, a hook report's body). With the default resource every node of
// the document is a heap allocation and a free: malloc and free were 12 % of
// the loop's samples in the fleet benchmark (issue 15). A larger document
// goes on in blocks from the heap; nothing is freed node by node. The
// document must not outlive this object.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string_view>

namespace healthsweep::clients {

template <std::size_t Bytes>
class ScratchDocument {
 public:
  boost::json::value parse(std::string_view text, boost::system::error_code& ec) {
    return boost::json::parse(text, ec, boost::json::storage_ptr(&resource_));
  }

 private:
  alignas(std::max_align_t) unsigned char buffer_[Bytes];
  boost::json::monotonic_resource resource_{buffer_, sizeof buffer_};
};

}  // namespace healthsweep::clients
