#include "api/auth/BearerAuth.h"

#include <openssl/crypto.h>

namespace calltrack::api {

namespace {
bool sameSecret(const std::string& a, const std::string& b) {
    // Length is not secret; the bytes are compared in constant time.
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::optional<Principal> BearerAuth::authenticate(const std::string& header) const {
    if (open()) return Principal{Principal::Kind::admin, {}};
    static constexpr std::string_view kScheme = "Bearer ";
    if (header.size() <= kScheme.size() || header.compare(0, kScheme.size(), kScheme) != 0)
        return std::nullopt;
    const std::string token = header.substr(kScheme.size());
    if (adminToken_ && sameSecret(token, *adminToken_))
        return Principal{Principal::Kind::admin, {}};
    if (lookup_ && token.size() <= 256) return lookup_(token);
    return std::nullopt;
}

}  // namespace calltrack::api
