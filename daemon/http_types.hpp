// The request and response types the listener and the routes share.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <variant>

namespace healthsweep::daemon {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
// A ready response, or one to await: the route needs I/O first (a hook
// report forwarded to its owner, the fleet list from PostgreSQL). The
// listener awaits it; the connection's next request waits, so answers stay
// in order, and the loop serves everything else meanwhile.
using Reply = std::variant<Response, boost::asio::awaitable<Response>>;

}  // namespace healthsweep::daemon
