#pragma once
// Folds call_events rows into what the utilization history and the counters
// need: per (client, minute) deltas and per-client totals. The one place
// that says which event counts as what, so usage_history, usage_totals and
// GET /metrics can never disagree.
//
//   kind admit, outcome admitted   -> an admission
//   kind admit, outcome duplicate  -> a retry of an admission (counted once)
//   kind admit, outcome refused    -> a refusal, by its reason
//   outcome applied, to_state ended (any kind: status, end, timeout) -> an
//   end by its final state, with the call's holding time (admission to end)
//
// Events naming no client (unknown_client refusals: the id is the caller's
// text, never stored as a client's; events without a client id) count for
// the system ('*') and, in the totals, under '?'. Every other event counts
// for the client it names, decided by the event alone, so a counter never
// moves between clients when clients are created or deleted later.

#include "db/storage/Connection.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace calltrack::db {

inline constexpr const char* kSystemRow = "*";      // usage_history: all clients
inline constexpr const char* kUnknownClient = "?";  // usage_totals: no known client

// One usage_history row's additive columns.
struct UsageDelta {
    int64_t admissions = 0;
    int64_t refusedClientLimit = 0;
    int64_t refusedGlobalLimit = 0;
    int64_t refusedDisabled = 0;
    int64_t refusedBot = 0;
    int64_t refusedOther = 0;
    int64_t endedCompleted = 0;
    int64_t endedBusy = 0;
    int64_t endedFailed = 0;
    int64_t endedNoAnswer = 0;
    int64_t endedCanceled = 0;
    int64_t timeouts = 0;
    int64_t holdingMsSum = 0;

    int64_t refused() const {
        return refusedClientLimit + refusedGlobalLimit + refusedDisabled + refusedBot +
               refusedOther;
    }
    int64_t ended() const {
        return endedCompleted + endedBusy + endedFailed + endedNoAnswer + endedCanceled + timeouts;
    }
    void add(const UsageDelta& o);
};

// Upper bounds (seconds) of the call-duration histogram; usage_totals keeps
// one non-cumulative count per bound ("duration_le:<s>") plus the overflow
// ("duration_le:inf").
inline constexpr std::array<int64_t, 12> kDurationBoundsS = {5,   15,   30,   60,   120,  300,
                                                             600, 1200, 1800, 3600, 7200, 14400};

class EventTally {
  public:
    EventTally() = default;

    // Folds the events with id > afterId, at most `limit` of them, in id
    // order; returns how many were read. lastId() is the last one read.
    int64_t foldFrom(Connection& c, int64_t afterId, int64_t limit);

    int64_t lastId() const { return lastId_; }
    // (client id or '*', minute start ms) -> deltas
    const std::map<std::pair<std::string, int64_t>, UsageDelta>& buckets() const {
        return buckets_;
    }
    // (client id or '?', counter) -> delta
    const std::map<std::pair<std::string, std::string>, int64_t>& totals() const { return totals_; }

  private:
    // Counters by index (kCounterNames in EventTally.cpp): folding an event
    // touches an array slot, never builds a string; the maps above are
    // made once per batch.
    static constexpr size_t kCounters = 70;
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct ClientTally {
        std::array<int64_t, kCounters> counters{};
        std::map<int64_t, UsageDelta> minutes;
    };
    using ById = std::unordered_map<std::string, ClientTally, Hash, std::equal_to<>>;

    void fold(int64_t at, std::string_view clientId, std::string_view kind, std::string_view source,
              std::string_view outcome, std::string_view reason, std::string_view toState,
              std::optional<int64_t> holdingMs);
    void publish();

    int64_t lastId_ = 0;
    ById byClient_;  // known clients and '?'
    std::map<int64_t, UsageDelta> system_;
    std::map<std::pair<std::string, int64_t>, UsageDelta> buckets_;
    std::map<std::pair<std::string, std::string>, int64_t> totals_;
};

}  // namespace calltrack::db
