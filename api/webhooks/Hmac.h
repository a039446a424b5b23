#pragma once

#include "db/Sha256.h"
// The keyed digests webhook providers sign with, and the comparison that checks
// them. Results are raw bytes because each provider encodes them differently
// (Base64 in headers, hex in Twilio's bodySHA256 URL parameter).

#include <string>
#include <string_view>

namespace calltrack::api {

// 20 raw bytes.
std::string hmacSha1(std::string_view key, std::string_view data);
// 32 raw bytes.
std::string hmacSha256(std::string_view key, std::string_view data);
// 64 lowercase hex digits, the form Twilio puts in bodySHA256 (shared with
// the token hashes in db/).
using db::sha256Hex;

// Equality whose running time does not depend on where the inputs differ, so a
// caller cannot find a valid signature byte by byte by timing rejections. The
// lengths are not secret (every valid signature has the same one) and may leak.
bool macEquals(std::string_view expected, std::string_view received);

}  // namespace calltrack::api
