#include "db/IdempotencyStore.h"

namespace calltrack::db {

IdempotencyStore::Claim IdempotencyStore::claim(const std::string& scope, const std::string& key,
                                                const std::string& requestSha256,
                                                Deadline deadline) {
    const int64_t now = clock_.nowMs();
    return writer_.run(
        [&](Connection& c) {
            Claim out;
            {
                Query q(c,
                        "SELECT request_sha256, status, response, created_at FROM idempotency_keys "
                        "WHERE scope = ?1 AND key = ?2");
                q->bind(1, scope);
                q->bind(2, key);
                if (q.step()) {
                    const bool sameRequest = q->getColumn(0).getString() == requestSha256;
                    const bool done = !q->getColumn(1).isNull();
                    const bool abandoned =
                        !done && now - q->getColumn(3).getInt64() > kAbandonedAfterMs;
                    if (!sameRequest) {
                        out.outcome = Claim::Outcome::mismatch;
                        return out;
                    }
                    if (done) {
                        out.outcome = Claim::Outcome::replay;
                        out.status = q->getColumn(1).getInt();
                        out.response = q->getColumn(2).getString();
                        return out;
                    }
                    if (!abandoned) {
                        out.outcome = Claim::Outcome::in_flight;
                        return out;
                    }
                }
            }
            Query q(c,
                    "INSERT INTO idempotency_keys (scope, key, request_sha256, created_at) VALUES "
                    "(?1, ?2, ?3, ?4) "
                    "ON CONFLICT (scope, key) DO UPDATE SET created_at = excluded.created_at, "
                    "status = NULL, "
                    "response = NULL, completed_at = NULL");
            q->bind(1, scope);
            q->bind(2, key);
            q->bind(3, requestSha256);
            q->bind(4, now);
            q.run();
            return out;
        },
        deadline);
}

void IdempotencyStore::complete(const std::string& scope, const std::string& key, int status,
                                const std::string& response) {
    writer_.run([&](Connection& c) {
        Query q(c,
                "UPDATE idempotency_keys SET status = ?3, response = ?4, completed_at = ?5 "
                "WHERE scope = ?1 AND key = ?2");
        q->bind(1, scope);
        q->bind(2, key);
        q->bind(3, status);
        q->bind(4, response);
        q->bind(5, clock_.nowMs());
        q.run();
    });
}

void IdempotencyStore::release(const std::string& scope, const std::string& key) {
    writer_.run([&](Connection& c) {
        Query q(c, "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL");
        q->bind(1, scope);
        q->bind(2, key);
        q.run();
    });
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
