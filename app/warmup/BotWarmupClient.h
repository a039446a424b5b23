#pragma once
// Sends one warm-up request to a bot: POST <warmup_url> with a small JSON body
// naming the bot and the attempt (also in the X-Calltrack-Attempt-Id header,
// so the bot's logs carry the same correlation id). Any 2xx within the bot's
// timeout is success; anything else (status, connection error, timeout) is a
// failure with a reason. Outbound HTTP is not the API layer, so it lives here
// with the scheduler that uses it.
//
// stopAll() aborts requests in flight (shutdown must not wait for a hung bot)
// and makes later calls fail at once.
//
// httplib's timeouts bound each connect, read and write, not the request: a
// bot that trickles its answer a byte at a time would never time out. So
// each request also has an overall deadline (its timeout), which
// stopOverdue() enforces: the scheduler calls it several times a second.

#include "db/bots/WarmupClaims.h"

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace calltrack::app {

struct WarmupOutcome {
    bool ok = false;
    int httpStatus = 0;  // 0: no response
    std::string error;   // why it failed
    int64_t durationMs = 0;
    // Failed because stopAll() cut it short (shutdown): it says nothing about
    // the bot or its endpoint.
    bool aborted = false;
};

class BotWarmupClient {
  public:
    // What is read of a warm-up answer's body at most; more fails the warm-up.
    static constexpr size_t kMaxResponseBytes = 64 * 1024;
    WarmupOutcome warm(const db::WarmupJob& job);
    void stopAll();
    // Aborts the requests past their overall deadline (they fail as timed
    // out); returns how many it aborted.
    int stopOverdue();
    // Requests between their start and their end (for stop(): see there).
    size_t activeRequests() const;

    // "http://host:port/path?q" -> {"http://host:port", "/path?q"}; false if
    // it is not an http(s) URL.
    static bool splitUrl(const std::string& url, std::string& origin, std::string& path);

  private:
    mutable std::mutex mutex_;
    bool stopping_ = false;  // guarded by mutex_
    // Requests in flight and their overall deadlines; guarded by mutex_.
    std::map<httplib::Client*, std::chrono::steady_clock::time_point> inFlight_;
    std::set<httplib::Client*> overdue_;  // aborted by stopOverdue(); guarded by mutex_
};

}  // namespace calltrack::app
