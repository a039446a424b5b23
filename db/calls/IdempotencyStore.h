#pragma once
// Idempotency-Key support (IETF httpapi draft, Stripe practice): the first
// request with a key runs and its response is stored; a retry with the same
// key and body gets the stored response, with another body 422. The lookup,
// the work (an admission) and the stored response are one writer operation:
// they commit together or not at all, so an admission is never committed
// without its response (a retry would admit a call without external_id
// twice), and two racing requests with one key are serialised by the
// database's write lock, in this process or another. Keys are kept 24 h.

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"

#include <functional>
#include <optional>
#include <string>

namespace calltrack::db {

class IdempotencyStore {
  public:
    static constexpr int64_t kKeepMs = 24 * 3600 * 1000;
    // A claim older than this whose request never completed (its process
    // died mid-request) is taken over by the next request with the key.
    static constexpr int64_t kAbandonedAfterMs = 60 * 1000;

    struct Response {
        int status = 0;
        std::string body;
    };
    struct Outcome {
        // ran: `work` ran now and its response is stored. in_flight: a v3
        // binary on the same file claimed the key and has not completed it.
        enum class Kind { ran, replay, mismatch, in_flight } kind = Kind::ran;
        Response response;  // ran, replay
    };
    // Runs inside the writer's transaction; what it returns is stored. An
    // exception rolls back its writes and stores nothing (a retry runs again).
    using Work = std::function<Response(Connection&, int64_t nowMs)>;

    IdempotencyStore(GroupCommitWriter& writer, const Clock& clock)
        : writer_(writer), clock_(clock) {}

    Outcome runOnce(const std::string& scope, const std::string& key,
                    const std::string& requestSha256, const Work& work, Deadline deadline);
    // Deletes up to `limit` keys older than kKeepMs; returns how many.
    int purgeExpired(int limit);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
