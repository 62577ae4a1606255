// Bearer-token check for the POST endpoints.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace healthsweep::daemon {

enum class AuthResult { ok, missing_or_wrong /* 401 */, not_configured /* 403 */ };

// `authorization` is the raw Authorization header (may be empty). The SHA-256
// digests of the presented and the configured token are compared in constant
// time (CRYPTO_memcmp): fixed-length digests, so response timing tells
// neither how much of a guess was right nor how long the token is.
AuthResult check_bearer(const std::optional<std::string>& token, std::string_view authorization);

// A warning when the token file can be read by its group or by others
// (mode & 044), nullopt when it is private (or cannot be inspected: reading
// it already succeeded or failed at load time).
std::optional<std::string> token_file_warning(const std::string& path);

}  // namespace healthsweep::daemon
