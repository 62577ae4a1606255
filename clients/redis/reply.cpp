// hiredis' replies and errors in our terms: a redisReply becomes an owned
// RedisReply, a hiredis error type and text an error_code; and the replies
// hiredis 0.14 would abort on, refused before it sees them.
#include "clients/redis/link.hpp"

#include <hiredis/hiredis.h>

#include <strings.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace healthsweep::clients::redis::detail {

namespace net = boost::asio;
using boost::system::error_code;

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; break;
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::array; break;
    default: out.type = RedisReply::Type::nil; break;
  }
  out.integer = r->integer;
  if (r->str) out.str.assign(r->str, r->len);
  if (r->type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r->elements);
    for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  }
  return out;
}

std::string_view element_str(const redisReply* r, size_t i) {
  if (i >= r->elements || !r->element[i]->str) return {};
  return {r->element[i]->str, r->element[i]->len};
}

// hiredis keeps only an error type and a text: map it to a code for callers
// and keep the text for log lines.
error_code code_of(int err, const char* text) {
  if (err == REDIS_ERR_EOF) return net::error::eof;
  if (err == REDIS_ERR_IO && text && std::strstr(text, std::strerror(ECONNREFUSED)))
    return net::error::connection_refused;
  if (err == REDIS_ERR_IO && text && std::strstr(text, std::strerror(ENOENT)))
    return net::error::not_found;
  return net::error::connection_reset;
}

const char* unacceptable(const redisReply* r, std::size_t& regular, bool subscribed) {
  if (regular > 0) {  // hiredis hands it to the oldest command's callback
    --regular;
    return nullptr;
  }
  // A reply to no command: hiredis takes an error as the server's farewell
  // (maxclients, LOADING) and disconnects with it; anything else it asserts
  // to be pub/sub.
  if (r->type == REDIS_REPLY_ERROR) return nullptr;
  if (!subscribed) return "a reply to no command";
  if (r->type != REDIS_REPLY_ARRAY) return nullptr;  // hiredis drops it
  // The checks of hiredis' __redisGetSubscribeCallback, which assert().
  if (r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
    return "a malformed pub/sub message";
  // hiredis compares the kind as a C string, case-insensitively, after an
  // optional 'p'; an unsubscribe makes it read element 2 unchecked, and a
  // count of 0 ends its subscribed mode.
  const char* kind = r->element[0]->str;
  if (std::tolower(static_cast<unsigned char>(kind[0])) == 'p') ++kind;
  if (::strcasecmp(kind, "unsubscribe") == 0) {
    if (r->elements < 3 || r->element[2]->type != REDIS_REPLY_INTEGER) return "a malformed unsubscribe";
    if (r->element[2]->integer < 1) return "an unsubscribe of the last subscription";
  }
  return nullptr;
}

}  // namespace healthsweep::clients::redis::detail
