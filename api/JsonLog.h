#pragma once
// Structured log lines, one JSON object per line on stderr:
//   {"time":"...","level":"info","msg":"...", ...fields}
// An instance is passed to whatever logs; there is no global logger.

#include <nlohmann/json.hpp>

#include <cstdio>
#include <mutex>
#include <string>

namespace calltrack::api {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

class JsonLog {
  public:
    explicit JsonLog(LogLevel minimum = LogLevel::info, std::FILE* out = stderr)
        : minimum_(minimum), out_(out) {}
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

    static bool parseLevel(const std::string& text, LogLevel& out);

  private:
    LogLevel minimum_;
    std::FILE* out_;
    std::mutex mutex_;
};

}  // namespace calltrack::api
