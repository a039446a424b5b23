#pragma once
// Structured log lines, one JSON object per line on stderr:
//   {"time":"...","level":"info","msg":"...", ...fields}
// An instance is passed to whatever logs; there is no global logger.
// With a queue (serve), lines go through a LogWriter: a blocked stderr
// drops and counts lines instead of blocking the caller.

#include <nlohmann/json.hpp>

#include "api/logging/LogLine.h"
#include "api/logging/LogWriter.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace calltrack::api {

class JsonLog {
  public:
    explicit JsonLog(LogLevel minimum = LogLevel::info, std::FILE* out = stderr,
                     size_t queuedLines = 0)
        : minimum_(minimum),
          out_(out),
          writer_(queuedLines > 0 ? std::make_unique<LogWriter>(::fileno(out), queuedLines)
                                  : nullptr) {}
    void log(LogLevel level, const std::string& message,
             nlohmann::json fields = nlohmann::json::object());
    void debug(const std::string& m, nlohmann::json f = nlohmann::json::object()) {
        log(LogLevel::debug, m, std::move(f));
    }
    void info(const std::string& m, nlohmann::json f = nlohmann::json::object()) {
        log(LogLevel::info, m, std::move(f));
    }
    void warn(const std::string& m, nlohmann::json f = nlohmann::json::object()) {
        log(LogLevel::warn, m, std::move(f));
    }
    void error(const std::string& m, nlohmann::json f = nlohmann::json::object()) {
        log(LogLevel::error, m, std::move(f));
    }
    bool enabled(LogLevel level) const { return level >= minimum_; }
    // A line to fill with fields and hand to write(), for callers that log
    // often (the access log) and would rather not build a DOM of fields.
    // Check enabled() first: write() does not filter.
    LogLine line(LogLevel level, std::string_view message) const;
    void write(LogLine& line);
    // Lines dropped because stderr did not keep up (queued logs only).
    uint64_t dropped() const { return writer_ ? writer_->dropped() : 0; }

    static bool parseLevel(const std::string& text, LogLevel& out);

  private:
    LogLevel minimum_;
    std::FILE* out_;
    std::mutex mutex_;
    std::unique_ptr<LogWriter> writer_;
};

}  // namespace calltrack::api
