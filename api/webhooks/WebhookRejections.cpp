#include "api/webhooks/WebhookRejections.h"

namespace calltrack::api {

std::optional<int64_t> WebhookRejections::count(const std::string& source,
                                                const std::string& reason) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    Kind& k = kinds_[{source, reason}];
    ++k.total;
    ++k.unlogged;
    if (k.lastLogged != std::chrono::steady_clock::time_point{} &&
        now - k.lastLogged < std::chrono::seconds(1))
        return std::nullopt;
    k.lastLogged = now;
    return std::exchange(k.unlogged, 0);
}

nlohmann::json WebhookRejections::snapshot() const {
    std::lock_guard lock(mutex_);
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, k] : kinds_) out[key.first][key.second] = k.total;
    return out;
}

}  // namespace calltrack::api
