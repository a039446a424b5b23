#include "api/webhooks/Hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <stdexcept>

namespace calltrack::api {

namespace {

// OpenSSL treats a null key pointer as "no key set" and fails, and an empty
// std::string_view may well have a null data(); an empty key is still a key.
const void* nonNull(std::string_view bytes) {
    static constexpr char emptyBuffer[1] = {0};
    return bytes.data() != nullptr ? bytes.data() : emptyBuffer;
}

std::string hmac(const EVP_MD* digest, const char* name, std::string_view key,
                 std::string_view data) {
    if (key.size() > static_cast<std::size_t>(INT_MAX)) {
        throw std::invalid_argument(std::string(name) + " key is too long");
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outLength = 0;
    const auto* result =
        HMAC(digest, nonNull(key), static_cast<int>(key.size()),
             static_cast<const unsigned char*>(nonNull(data)), data.size(), out, &outLength);
    if (result == nullptr) throw std::runtime_error(std::string(name) + " failed in OpenSSL");
    return std::string(reinterpret_cast<const char*>(out), outLength);
}

}  // namespace

std::string hmacSha1(std::string_view key, std::string_view data) {
    return hmac(EVP_sha1(), "HMAC-SHA1", key, data);
}

std::string hmacSha256(std::string_view key, std::string_view data) {
    return hmac(EVP_sha256(), "HMAC-SHA256", key, data);
}

bool macEquals(std::string_view expected, std::string_view received) {
    if (expected.size() != received.size()) return false;
    if (expected.empty()) return true;
    return CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

}  // namespace calltrack::api
