#include "app/warmup/BotWarmupClient.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace calltrack::app {

bool BotWarmupClient::splitUrl(const std::string& url, std::string& origin, std::string& path) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) return false;
    const std::string s = url.substr(0, scheme);
    if (s != "http" && s != "https") return false;
    const auto slash = url.find_first_of("/?", scheme + 3);
    origin = url.substr(0, slash);
    if (origin.size() <= scheme + 3) return false;
    path = slash == std::string::npos ? "/" : url.substr(slash);
    if (path[0] == '?') path = "/" + path;
    return true;
}

WarmupOutcome BotWarmupClient::warm(const db::WarmupJob& job) {
    const auto started = std::chrono::steady_clock::now();
    WarmupOutcome out;
    const auto finish = [&](WarmupOutcome& o) -> WarmupOutcome& {
        o.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
        return o;
    };
    std::string origin, path;
    if (!splitUrl(job.url, origin, path)) {
        out.error = "not an http(s) URL";
        return finish(out);
    }
    httplib::Client client(origin);
    const auto timeout = std::chrono::milliseconds(job.timeoutMs);
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    client.set_keep_alive(false);
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            out.error = "shutting down";
            out.aborted = true;
            return finish(out);
        }
        inFlight_.emplace(&client, started + timeout);
    }
    const nlohmann::json body = {{"bot_id", job.botId},
                                 {"attempt_id", job.attemptId},
                                 {"client_id", job.forClient},
                                 {"refresh", job.refresh}};
    // The answer's body is not used: at most kMaxResponseBytes of it are
    // read, so a bot (or whatever answers at its URL) cannot make calltrack
    // buffer without limit.
    httplib::Request request;
    request.method = "POST";
    request.path = path;
    request.headers = {{"X-Calltrack-Attempt-Id", job.attemptId},
                       {"Content-Type", "application/json"}};
    request.body = body.dump();
    size_t received = 0;
    bool tooLarge = false;
    request.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
        received += n;
        tooLarge = received > kMaxResponseBytes;
        return !tooLarge;
    };
    auto res = client.send(request);
    bool stopped = false, overdue = false;
    {
        std::lock_guard lock(mutex_);
        inFlight_.erase(&client);
        overdue = overdue_.erase(&client) > 0;
        stopped = stopping_ && !overdue;
    }
    finish(out);
    if (tooLarge) {
        out.error = "the answer's body is over " + std::to_string(kMaxResponseBytes / 1024) +
                    " KiB (not read further)";
        return out;
    }
    if (!res) {
        out.error = httplib::to_string(res.error());
        // stopAll() closed its socket: not a failure of the bot.
        out.aborted = stopped;
        if (overdue) {
            out.error = "timed out after " + std::to_string(job.timeoutMs) +
                        " ms (no complete answer by the deadline)";
        } else if (res.error() == httplib::Error::Read ||
                   res.error() == httplib::Error::Connection) {
            if (out.durationMs >= job.timeoutMs)
                out.error =
                    "timed out after " + std::to_string(job.timeoutMs) + " ms (" + out.error + ")";
        }
        return out;
    }
    out.httpStatus = res->status;
    if (overdue) {
        out.error = "timed out after " + std::to_string(job.timeoutMs) + " ms";
        return out;
    }
    if (res->status < 200 || res->status > 299) {
        out.error = "HTTP " + std::to_string(res->status);
        return out;
    }
    out.ok = true;
    return out;
}

size_t BotWarmupClient::activeRequests() const {
    std::lock_guard lock(mutex_);
    return inFlight_.size();
}

void BotWarmupClient::stopAll() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [client, deadline] : inFlight_) client->stop();
}

int BotWarmupClient::stopOverdue() {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    int n = 0;
    for (auto& [client, deadline] : inFlight_) {
        if (deadline > now) continue;
        // Repeated on every call while the request lasts: stop() does nothing
        // to a request whose socket is not open yet.
        client->stop();
        n += overdue_.insert(client).second;
    }
    return n;
}

}  // namespace calltrack::app
