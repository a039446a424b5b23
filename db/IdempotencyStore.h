#pragma once
// Idempotency-Key support (IETF httpapi draft, Stripe practice): the first
// request with a key is claimed, run, and its response stored; a retry with
// the same key and body gets the stored response, with another body 422, and
// while the first is still running 409. Keys are kept 24 h.

#include "db/Clock.h"
#include "db/GroupCommitWriter.h"

#include <optional>
#include <string>

namespace calltrack::db {

class IdempotencyStore {
  public:
    static constexpr int64_t kKeepMs = 24 * 3600 * 1000;
    // A claim older than this whose request never completed (its process
    // died mid-request) is taken over by the next request with the key.
    static constexpr int64_t kAbandonedAfterMs = 60 * 1000;

    struct Claim {
        enum class Outcome { claimed, replay, mismatch, in_flight } outcome = Outcome::claimed;
        int status = 0;        // replay
        std::string response;  // replay
    };

    IdempotencyStore(GroupCommitWriter& writer, const Clock& clock)
        : writer_(writer), clock_(clock) {}

    Claim claim(const std::string& scope, const std::string& key, const std::string& requestSha256,
                Deadline deadline);
    void complete(const std::string& scope, const std::string& key, int status,
                  const std::string& response);
    // Gives a claim up without a stored response (the request failed in a way
    // a retry should redo, e.g. the database was busy).
    void release(const std::string& scope, const std::string& key);
    // Deletes up to `limit` keys older than kKeepMs; returns how many.
    int purgeExpired(int limit);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
