#include "db/calls/IdempotencyStore.h"

namespace calltrack::db {

IdempotencyStore::Outcome IdempotencyStore::runOnce(const std::string& scope,
                                                    const std::string& key,
                                                    const std::string& requestSha256,
                                                    const Work& work, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            const int64_t now = clock_.nowMs();
            Outcome out;
            {
                Query q(c,
                        "SELECT request_sha256, status, response, created_at FROM idempotency_keys "
                        "WHERE scope = ?1 AND key = ?2");
                q->bind(1, scope);
                q->bind(2, key);
                if (q.step()) {
                    const bool sameRequest = q->getColumn(0).getString() == requestSha256;
                    const bool done = !q->getColumn(1).isNull();
                    // Only a v3 binary leaves a claim without a response; one
                    // older than a minute is abandoned (its process died).
                    const bool abandoned =
                        !done && now - q->getColumn(3).getInt64() > kAbandonedAfterMs;
                    if (!sameRequest) {
                        out.kind = Outcome::Kind::mismatch;
                        return out;
                    }
                    if (done) {
                        out.kind = Outcome::Kind::replay;
                        out.response = {q->getColumn(1).getInt(), q->getColumn(2).getString()};
                        return out;
                    }
                    if (!abandoned) {
                        out.kind = Outcome::Kind::in_flight;
                        return out;
                    }
                }
            }
            out.response = work(c, now);
            Query q(
                c,
                "INSERT INTO idempotency_keys (scope, key, request_sha256, status, response, "
                "created_at, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                "ON CONFLICT (scope, key) DO UPDATE SET request_sha256 = excluded.request_sha256, "
                "status = excluded.status, response = excluded.response, "
                "created_at = excluded.created_at, completed_at = excluded.completed_at");
            q->bind(1, scope);
            q->bind(2, key);
            q->bind(3, requestSha256);
            q->bind(4, out.response.status);
            q->bind(5, out.response.body);
            q->bind(6, now);
            q.run();
            return out;
        },
        deadline);
}

int IdempotencyStore::purgeExpired(int limit) {
    return writer_.run([&](Connection& c) {
        Query q(c,
                "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key FROM "
                "idempotency_keys "
                "WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)");
        q->bind(1, clock_.nowMs() - kKeepMs);
        q->bind(2, limit);
        return q.run();
    });
}

}  // namespace calltrack::db
