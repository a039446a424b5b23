#pragma once
// Webhooks refused before they were authenticated (unknown account, bad or
// stale signature): counted per source and reason in this process, shown in
// GET /v1/usage, and logged at most once a second per reason. Never written
// to the database: an anonymous sender must not be able to make calltrack
// write, nor grow the file.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace calltrack::api {

class WebhookRejections {
  public:
    // Counts one. Returns how many of this kind went unlogged since the last
    // log line (this one included) when a line is due now, else nothing.
    std::optional<int64_t> count(const std::string& source, const std::string& reason);
    // {"twilio": {"bad_signature": 3, ...}, "generic": {...}}
    nlohmann::json snapshot() const;

  private:
    struct Kind {
        int64_t total = 0;
        int64_t unlogged = 0;
        std::chrono::steady_clock::time_point lastLogged{};
    };
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, Kind> kinds_;  // guarded by mutex_
};

}  // namespace calltrack::api
