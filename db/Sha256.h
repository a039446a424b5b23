#pragma once
// SHA-256 as lowercase hex: API token hashes (db) and webhook body digests (api).

#include <string>
#include <string_view>

namespace calltrack::db {
std::string sha256Hex(std::string_view data);
}
