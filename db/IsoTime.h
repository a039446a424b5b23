#pragma once
// ISO-8601 UTC text <-> Unix milliseconds, the time format of the CLI, the
// API and the sqlite3 views.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace calltrack::db {

// "yyyy-mm-ddThh:mm:ss.sssZ", in a buffer of its own: formatting needs no
// allocation and no lock (gmtime_r takes glibc's time-zone lock, which every
// request thread would contend for).
struct IsoTimeText {
    char data[32];
    size_t size = 0;
    std::string_view view() const { return {data, size}; }
};
IsoTimeText isoTimeText(int64_t ms);
std::string isoTime(int64_t ms);
// Accepts "yyyy-mm-ddThh:mm:ss[.fff…]Z" (UTC only); nullopt for anything else.
std::optional<int64_t> parseIsoTime(std::string_view text);

}  // namespace calltrack::db
