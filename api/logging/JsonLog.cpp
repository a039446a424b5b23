#include "api/logging/JsonLog.h"

#include "db/Clock.h"
#include "db/calls/CallTable.h"

namespace calltrack::api {

LogLine JsonLog::line(LogLevel level, std::string_view message) const {
    return LogLine(level, message, db::SystemClock().nowMs());
}

void JsonLog::log(LogLevel level, const std::string& message, nlohmann::json fields) {
    if (!enabled(level)) return;
    LogLine l = line(level, message);
    l.fields(fields);
    write(l);
}

void JsonLog::write(LogLine& line) {
    std::string text = line.finish();
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
        if (text == nameOf(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

}  // namespace calltrack::api
