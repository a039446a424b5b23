#include "db/calls/CallTable.h"

#include "db/EngineError.h"
#include "db/storage/OptionalColumn.h"

namespace calltrack::db {

namespace {

#define CALL_COLUMNS                                                                         \
    "c.id, c.client_id, c.external_id, c.provider, c.state, c.client_slot, c.would_refuse, " \
    "c.last_sequence, c.created_at, c.updated_at, c.answered_at, c.ended_at, c.expires_at, " \
    "c.end_reason, c.version, c.metadata, c.admitted_at, c.bot_id, c.provider_call_id, "     \
    "c.heartbeats, c.last_heartbeat_at"
constexpr int kCallColumnCount = 21;
// A call whose client row is gone (removed from a shell before v4 guarded
// clients) is still found, ended and reaped, with the default timeouts,
// instead of holding its global slot for ever.
#define CLIENT_TIMEOUTS "coalesce(k.ring_timeout_s, 60), coalesce(k.max_call_s, 14400)"

Call readCall(SQLite::Statement& s) {
    Call call;
    call.id = s.getColumn(0).getInt64();
    call.clientId = s.getColumn(1).getString();
    call.externalId = s.getColumn(2).getString();
    call.provider = s.getColumn(3).getString();
    const auto state = parseCallState(s.getColumn(4).getText());
    if (!state) throw EngineError(ErrorCode::internal, "unknown call state in database");
    call.state = *state;
    call.holdsSlot = !s.getColumn(5).isNull();
    call.wouldRefuse = optionalText(s.getColumn(6));
    call.lastSequence = optionalInt(s.getColumn(7));
    call.createdAt = s.getColumn(8).getInt64();
    call.updatedAt = s.getColumn(9).getInt64();
    call.answeredAt = optionalInt(s.getColumn(10));
    call.endedAt = optionalInt(s.getColumn(11));
    call.expiresAt = optionalInt(s.getColumn(12));
    call.endReason = optionalText(s.getColumn(13));
    call.version = s.getColumn(14).getInt64();
    call.metadata = optionalText(s.getColumn(15));
    call.admittedAt = optionalInt(s.getColumn(16));
    call.botId = optionalText(s.getColumn(17));
    call.providerCallId = optionalText(s.getColumn(18));
    call.heartbeats = s.getColumn(19).getInt64();
    call.lastHeartbeatAt = optionalInt(s.getColumn(20));
    return call;
}

const char* const kFindById = "SELECT " CALL_COLUMNS ", " CLIENT_TIMEOUTS
                              " FROM calls c "
                              "LEFT JOIN clients k ON k.id = c.client_id WHERE c.id = ?1";
const char* const kFindByExternal =
    "SELECT " CALL_COLUMNS ", " CLIENT_TIMEOUTS
    " FROM calls c "
    "LEFT JOIN clients k ON k.id = c.client_id WHERE c.client_id = ?1 AND c.external_id = ?2";

const char* const kFindByProviderCallId =
    "SELECT " CALL_COLUMNS ", " CLIENT_TIMEOUTS
    " FROM calls c "
    "LEFT JOIN clients k ON k.id = c.client_id WHERE c.provider_call_id = ?1";
// A call whose external id is the CallSid, among the clients of one Twilio
// account: each client's probe uses UNIQUE (client_id, external_id). A live
// call wins over an ended one should two clients of the account share it.
const char* const kFindExternalInAccount =
    "SELECT c.id FROM client_credentials cc JOIN calls c ON c.client_id = cc.client_id "
    "AND c.external_id = ?2 WHERE cc.twilio_account_sid = ?1 "
    "ORDER BY c.ended_at IS NULL DESC, c.id DESC LIMIT 1";

// Newest first; the cursor is the last id seen, so pages stay stable while
// new calls (with larger ids) arrive.
const char* const kListAll = "SELECT " CALL_COLUMNS
                             " FROM calls c WHERE (?1 IS NULL OR c.client_id = ?1) "
                             "AND c.id < ?2 ORDER BY c.id DESC LIMIT ?3";
// Live calls only from the partial indexes that hold live calls only, so a
// listing costs the live calls (for a client: its own), never the ended ones
// however many there are (calls_client_recent would walk those too). Every
// live call has an expires_at (a CHECK), so calls_live_expiry holds them all.
const char* const kListActiveAll = "SELECT " CALL_COLUMNS
                                   " FROM calls c INDEXED BY calls_live_expiry "
                                   "WHERE c.ended_at IS NULL AND c.expires_at IS NOT NULL "
                                   "AND c.id < ?2 ORDER BY c.id DESC LIMIT ?3";
const char* const kListActiveOfClient = "SELECT " CALL_COLUMNS
                                        " FROM calls c INDEXED BY calls_live_client_slot "
                                        "WHERE c.client_id = ?1 AND c.ended_at IS NULL "
                                        "AND c.id < ?2 ORDER BY c.id DESC LIMIT ?3";
const char* const kListEnded =
    "SELECT " CALL_COLUMNS
    " FROM calls c WHERE (?1 IS NULL OR c.client_id = ?1) "
    "AND c.ended_at IS NOT NULL AND c.id < ?2 ORDER BY c.id DESC LIMIT ?3";

}  // namespace

std::optional<CallWithTimeouts> CallTable::find(Connection& c, const CallRef& ref) {
    const bool byId = ref.id.has_value();
    Query q(c, byId ? kFindById : kFindByExternal);
    if (byId) {
        q->bind(1, *ref.id);
    } else {
        if (!ref.clientId || !ref.externalId) {
            throw EngineError(ErrorCode::invalid_argument,
                              "a call is named by its id, or by client_id and external_id");
        }
        q->bind(1, *ref.clientId);
        q->bind(2, *ref.externalId);
    }
    if (!q.step()) return std::nullopt;
    CallWithTimeouts out{readCall(*q), q->getColumn(kCallColumnCount).getInt64(),
                         q->getColumn(kCallColumnCount + 1).getInt64()};
    // A scoped lookup must not reveal another client's call.
    if (byId && ref.clientId && out.call.clientId != *ref.clientId) return std::nullopt;
    return out;
}

std::optional<CallWithTimeouts> CallTable::findByProviderCallId(Connection& c,
                                                                const std::string& providerCallId) {
    Query q(c, kFindByProviderCallId);
    q->bind(1, providerCallId);
    if (!q.step()) return std::nullopt;
    return CallWithTimeouts{readCall(*q), q->getColumn(kCallColumnCount).getInt64(),
                            q->getColumn(kCallColumnCount + 1).getInt64()};
}

std::optional<int64_t> CallTable::findExternalInAccount(Connection& c,
                                                        const std::string& accountSid,
                                                        const std::string& externalId) {
    Query q(c, kFindExternalInAccount);
    q->bind(1, accountSid);
    q->bind(2, externalId);
    if (!q.step()) return std::nullopt;
    return q->getColumn(0).getInt64();
}

std::optional<Call> CallTable::findById(Connection& c, int64_t id) {
    auto found = find(c, CallRef::byId(id));
    if (!found) return std::nullopt;
    return std::move(found->call);
}

const char* CallTable::listSql(const ListFilter& filter) {
    return filter.which == ListFilter::Which::active
               ? (filter.clientId ? kListActiveOfClient : kListActiveAll)
           : filter.which == ListFilter::Which::ended ? kListEnded
                                                      : kListAll;
}

std::vector<Call> CallTable::list(Connection& c, const ListFilter& filter) {
    Query q(c, listSql(filter));
    if (filter.clientId) q->bind(1, *filter.clientId);
    q->bind(2, filter.beforeId.value_or(INT64_MAX));
    q->bind(3, filter.limit);
    std::vector<Call> out;
    while (q.step()) out.push_back(readCall(*q));
    return out;
}

}  // namespace calltrack::db
