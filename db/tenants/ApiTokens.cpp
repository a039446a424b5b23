#include "db/tenants/ApiTokens.h"

#include "db/EngineError.h"

#include "db/Sha256.h"

#include <random>

namespace calltrack::db {

namespace {

std::string randomHex(size_t bytes) {
    std::random_device rd;  // the kernel's CSPRNG on Linux
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes; ++i) {
        const auto b = static_cast<unsigned>(rd() & 0xFF);
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    return out;
}

ApiToken readToken(SQLite::Statement& s) {
    ApiToken t;
    t.id = s.getColumn(0).getString();
    if (!s.getColumn(1).isNull()) t.clientId = s.getColumn(1).getString();
    if (!s.getColumn(2).isNull()) t.label = s.getColumn(2).getString();
    t.createdAt = s.getColumn(3).getInt64();
    if (!s.getColumn(4).isNull()) t.revokedAt = s.getColumn(4).getInt64();
    return t;
}

}  // namespace

CreatedToken ApiTokens::create(GroupCommitWriter& writer, const Clock& clock,
                               const std::optional<std::string>& clientId,
                               const std::optional<std::string>& label) {
    if (label && label->size() > 200)
        throw EngineError(ErrorCode::invalid_argument, "label: at most 200 characters");
    CreatedToken created;
    created.secret = "ct_" + randomHex(20);
    created.token.id = "tok_" + randomHex(6);
    created.token.clientId = clientId;
    created.token.label = label;
    created.token.createdAt = clock.nowMs();
    writer.run([&](Connection& c) {
        if (clientId) {
            Query q(c, "SELECT 1 FROM clients WHERE id = ?1");
            q->bind(1, *clientId);
            if (!q.step()) throw EngineError(ErrorCode::not_found, "no client " + *clientId);
        }
        Query q(c,
                "INSERT INTO api_tokens (id, token_sha256, client_id, label, created_at) VALUES "
                "(?1, ?2, ?3, ?4, ?5)");
        q->bind(1, created.token.id);
        q->bind(2, sha256Hex(created.secret));
        if (clientId) q->bind(3, *clientId);
        if (label) q->bind(4, *label);
        q->bind(5, created.token.createdAt);
        q.run();
    });
    return created;
}

bool ApiTokens::revoke(GroupCommitWriter& writer, const Clock& clock, const std::string& id) {
    return writer.run([&](Connection& c) {
        Query q(c, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
        q->bind(1, id);
        q->bind(2, clock.nowMs());
        return q.run() == 1;
    });
}

std::vector<ApiToken> ApiTokens::list(Connection& c) {
    Query q(c,
            "SELECT id, client_id, label, created_at, revoked_at FROM api_tokens ORDER BY "
            "created_at, id");
    std::vector<ApiToken> out;
    while (q.step()) out.push_back(readToken(*q));
    return out;
}

std::optional<ApiToken> ApiTokens::find(Connection& c, const std::string& secret) {
    // Looked up by hash: the comparison that matters happens inside the
    // index on a value the caller cannot steer byte by byte.
    Query q(c,
            "SELECT id, client_id, label, created_at, revoked_at FROM api_tokens WHERE "
            "token_sha256 = ?1 "
            "AND revoked_at IS NULL");
    q->bind(1, sha256Hex(secret));
    if (!q.step()) return std::nullopt;
    return readToken(*q);
}

bool ApiTokens::anyActive(Connection& c) {
    Query q(c, "SELECT 1 FROM api_tokens WHERE revoked_at IS NULL LIMIT 1");
    return q.step();
}

}  // namespace calltrack::db
