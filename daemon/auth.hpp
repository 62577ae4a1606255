// Bearer-token check for the POST endpoints.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace healthsweep::daemon {

enum class AuthResult { ok, missing_or_wrong /* 401 */, not_configured /* 403 */ };

// `authorization` is the raw Authorization header (may be empty). The token is
// compared in constant time (CRYPTO_memcmp), so response timing does not tell
// how much of a guess was right.
AuthResult check_bearer(const std::optional<std::string>& token, std::string_view authorization);

}  // namespace healthsweep::daemon
