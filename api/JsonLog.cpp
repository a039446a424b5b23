#include "api/JsonLog.h"

#include "db/CallTable.h"
#include "db/Clock.h"

namespace calltrack::api {

namespace {
const char* levelName(LogLevel level) {
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
}  // namespace

void JsonLog::log(LogLevel level, const std::string& message, nlohmann::json fields) {
    if (!enabled(level)) return;
    nlohmann::json line = nlohmann::json::object();
    line["time"] = db::isoTime(db::SystemClock().nowMs());
    line["level"] = levelName(level);
    line["msg"] = message;
    if (fields.is_object()) line.update(fields);
    // Replace invalid UTF-8 rather than throw from a log call.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (writer_) {
        writer_->push(std::move(text));
        return;
    }
    std::lock_guard lock(mutex_);
    std::fprintf(out_, "%s\n", text.c_str());
    std::fflush(out_);
}

bool JsonLog::parseLevel(const std::string& text, LogLevel& out) {
    for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
        if (text == levelName(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

}  // namespace calltrack::api
