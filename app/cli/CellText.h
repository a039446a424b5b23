#pragma once
// How the CLI's tables print a value that may be missing or derived: one
// spelling for every command ("-" for nothing, times in UTC ISO 8601).

#include "db/IsoTime.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace calltrack::app {

inline std::string yesNo(bool b) {
    return b ? "yes" : "no";
}

inline std::string optTime(const std::optional<int64_t>& ms) {
    return ms ? db::isoTime(*ms) : "-";
}

// active as a share of limit, "12.5%"; "-" for a limit of 0.
inline std::string percentText(int64_t active, int64_t limit) {
    if (limit <= 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%",
                  100.0 * static_cast<double>(active) / static_cast<double>(limit));
    return buf;
}

}  // namespace calltrack::app
