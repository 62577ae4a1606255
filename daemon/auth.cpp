#include "daemon/auth.hpp"

#include <openssl/crypto.h>

#include <cctype>

namespace healthsweep::daemon {

AuthResult check_bearer(const std::optional<std::string>& token, std::string_view authorization) {
  if (!token || token->empty()) return AuthResult::not_configured;
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size()) return AuthResult::missing_or_wrong;
  // The scheme name is case-insensitive (RFC 9110 section 11.1).
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return AuthResult::missing_or_wrong;
  const auto presented = authorization.substr(scheme.size());
  if (presented.size() != token->size()) return AuthResult::missing_or_wrong;
  return CRYPTO_memcmp(presented.data(), token->data(), token->size()) == 0
             ? AuthResult::ok
             : AuthResult::missing_or_wrong;
}

}  // namespace healthsweep::daemon
