#pragma once
// Nullable columns read into std::optional (NULL -> nullopt).

#include <SQLiteCpp/Column.h>

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

inline std::optional<int64_t> optionalInt(const SQLite::Column& col) {
    if (col.isNull()) return std::nullopt;
    return col.getInt64();
}

inline std::optional<std::string> optionalText(const SQLite::Column& col) {
    if (col.isNull()) return std::nullopt;
    return col.getString();
}

}  // namespace calltrack::db
