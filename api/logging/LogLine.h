#pragma once
// One structured log line under construction, written straight into its
// text (no DOM): {"time":"...","level":"...","msg":"...", then the fields in
// the order given}. The line's own keys come first and cannot be replaced: a
// field named time, level or msg is left out. Callers keep field names
// distinct; a repeated name is written twice.

#include "api/json/JsonWriter.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace calltrack::api {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };
const char* nameOf(LogLevel level);

class LogLine {
  public:
    LogLine(LogLevel level, std::string_view message, int64_t nowMs);
    // The writer refers to text_: a line stays where it was built.
    LogLine(const LogLine&) = delete;
    LogLine& operator=(const LogLine&) = delete;

    template <class T>
    LogLine& field(std::string_view name, const T& value) {
        if (!reserved(name)) out_.key(name).value(value);
        return *this;
    }
    // Every member of a JSON object, in its (byte) order; anything else is
    // ignored.
    LogLine& fields(const nlohmann::json& object);
    // The finished line, without its newline.
    std::string finish();

  private:
    static bool reserved(std::string_view name) {
        return name == "time" || name == "level" || name == "msg";
    }
    std::string text_;
    JsonWriter out_;
};

}  // namespace calltrack::api
