#include "api/logging/LogLine.h"

#include "db/IsoTime.h"

namespace calltrack::api {

const char* nameOf(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

LogLine::LogLine(LogLevel level, std::string_view message, int64_t nowMs) : out_(text_) {
    text_.reserve(320);
    out_.beginObject();
    out_.key("time").value(db::isoTimeText(nowMs).view());
    out_.key("level").value(nameOf(level));
    out_.key("msg").value(message);
}

LogLine& LogLine::fields(const nlohmann::json& object) {
    if (!object.is_object()) return *this;
    for (const auto& [name, value] : object.items()) field(name, value);
    return *this;
}

std::string LogLine::finish() {
    out_.endObject();
    return std::move(text_);
}

}  // namespace calltrack::api
