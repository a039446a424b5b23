#include "db/tenants/ClientRegistry.h"

#include "db/EngineError.h"
#include "db/TextRules.h"

namespace calltrack::db {

namespace {

#define CLIENT_SELECT                                                                              \
    "SELECT k.id, k.name, k.max_concurrent, k.enabled, k.mode, k.ring_timeout_s, k.max_call_s, "   \
    "k.active, "                                                                                   \
    "k.refused_total, k.flagged_total, k.created_at, k.updated_at, "                               \
    "cc.twilio_account_sid, cc.twilio_auth_token IS NOT NULL, cc.webhook_secret IS NOT NULL, "     \
    "k.bots_required, k.warm_min, k.warm_headroom, k.warm_max, k.warm_ttl_s, k.warm_lead_time_s, " \
    "cc.twilio_voice_url, k.on_database_unavailable "                                              \
    "FROM clients k LEFT JOIN client_credentials cc ON cc.client_id = k.id "
const char* const kFindClient = CLIENT_SELECT "WHERE k.id = ?1";
const char* const kListClients = CLIENT_SELECT "ORDER BY k.id";
const char* const kInsertClient =
    "INSERT INTO clients (id, name, max_concurrent, enabled, mode, ring_timeout_s, max_call_s, "
    "created_at, updated_at, bots_required, warm_min, warm_headroom, warm_max, warm_ttl_s, "
    "warm_lead_time_s, on_database_unavailable) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, "
    "?10, ?11, ?12, ?13, ?14, ?15)";
const char* const kUpdateClient =
    "UPDATE clients SET name = ?2, max_concurrent = ?3, enabled = ?4, mode = ?5, ring_timeout_s = "
    "?6, "
    "max_call_s = ?7, updated_at = ?8, bots_required = ?9, warm_min = ?10, warm_headroom = ?11, "
    "warm_max = ?12, warm_ttl_s = ?13, warm_lead_time_s = ?14, on_database_unavailable = ?15 "
    "WHERE id = ?1";
// Credentials are written only when given; the row keeps what is not. The
// account's token lives in twilio_accounts; client_credentials keeps a copy
// for v2 binaries (schema.sql), rewritten for every client of the account.
const char* const kPutTwilioAccount =
    "INSERT INTO twilio_accounts (account_sid, auth_token, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (account_sid) DO UPDATE SET auth_token = excluded.auth_token, updated_at = "
    "excluded.updated_at";
// The account's token and how many other clients use it.
const char* const kTwilioAccountUse =
    "SELECT a.auth_token, (SELECT count(*) FROM client_credentials cc WHERE cc.twilio_account_sid "
    "= a.account_sid AND cc.client_id <> ?2) FROM twilio_accounts a WHERE a.account_sid = ?1";
const char* const kCopyTwilioToken =
    "UPDATE client_credentials SET twilio_auth_token = ?2 WHERE twilio_account_sid = ?1";
const char* const kPutTwilio =
    "INSERT INTO client_credentials (client_id, twilio_account_sid, twilio_auth_token, "
    "twilio_voice_url, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (client_id) DO UPDATE "
    "SET twilio_account_sid = excluded.twilio_account_sid, twilio_auth_token = "
    "excluded.twilio_auth_token, twilio_voice_url = coalesce(excluded.twilio_voice_url, "
    "twilio_voice_url), updated_at = excluded.updated_at";
const char* const kPutWebhookSecret =
    "INSERT INTO client_credentials (client_id, webhook_secret, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (client_id) DO UPDATE SET webhook_secret = excluded.webhook_secret, updated_at = "
    "excluded.updated_at";
const char* const kSetGlobal =
    "UPDATE settings SET global_limit = ?1, updated_at = ?2 WHERE id = 1";
const char* const kGlobal = "SELECT global_limit, global_active FROM settings WHERE id = 1";

Client readClient(SQLite::Statement& s) {
    Client k;
    k.id = s.getColumn(0).getString();
    k.name = s.getColumn(1).getString();
    k.maxConcurrent = s.getColumn(2).getInt64();
    k.enabled = s.getColumn(3).getInt() != 0;
    k.mode = parseClientMode(s.getColumn(4).getString()).value_or(ClientMode::enforce);
    k.ringTimeoutS = s.getColumn(5).getInt64();
    k.maxCallS = s.getColumn(6).getInt64();
    k.active = s.getColumn(7).getInt64();
    k.refusedTotal = s.getColumn(8).getInt64();
    k.flaggedTotal = s.getColumn(9).getInt64();
    k.createdAt = s.getColumn(10).getInt64();
    k.updatedAt = s.getColumn(11).getInt64();
    if (!s.getColumn(12).isNull()) k.twilioAccountSid = s.getColumn(12).getString();
    k.hasTwilioAuthToken = s.getColumn(13).getInt() == 1;
    k.hasWebhookSecret = s.getColumn(14).getInt() == 1;
    k.botsRequired = s.getColumn(15).getInt() == 1;
    k.warmPool.minWarm = s.getColumn(16).getInt64();
    k.warmPool.headroom = s.getColumn(17).getInt64();
    if (!s.getColumn(18).isNull()) k.warmPool.maxWarm = s.getColumn(18).getInt64();
    k.warmPool.warmTtlS = s.getColumn(19).getInt64();
    k.warmPool.leadTimeS = s.getColumn(20).getInt64();
    if (!s.getColumn(21).isNull()) k.twilioVoiceUrl = s.getColumn(21).getString();
    k.onDatabaseUnavailable =
        parseUnavailablePolicy(s.getColumn(22).getString()).value_or(UnavailablePolicy::refuse);
    return k;
}

void validate(const std::string& id, const ClientPatch& p) {
    TextRules::requireClientId(id);
    if (p.name && p.name->size() > 200)
        throw EngineError(ErrorCode::invalid_argument, "name must be at most 200 characters");
    const auto within = [](const std::optional<int64_t>& v, int64_t min, int64_t max,
                           const std::string& what) {
        if (v && (*v < min || *v > max)) {
            throw EngineError(ErrorCode::invalid_argument, what + " must be an integer from " +
                                                               std::to_string(min) + " to " +
                                                               std::to_string(max));
        }
    };
    within(p.maxConcurrent, 0, ClientBounds::kMaxConcurrent, "max_concurrent");
    within(p.ringTimeoutS, 1, ClientBounds::kMaxRingTimeoutS, "ring_timeout_s");
    within(p.maxCallS, 1, ClientBounds::kMaxCallS, "max_call_s");
    if (p.twilio) {
        TextRules::requireIdentifier(p.twilio->accountSid, "twilio.account_sid");
        if (p.twilio->authToken.empty() || p.twilio->authToken.size() > 256) {
            throw EngineError(ErrorCode::invalid_argument,
                              "twilio.auth_token must be 1 to 256 characters");
        }
        if (p.twilio->voiceUrl) TextRules::requireHttpUrl(*p.twilio->voiceUrl, "twilio.voice_url");
    }
    if (p.webhookSecret && (p.webhookSecret->rfind("whsec_", 0) != 0 ||
                            p.webhookSecret->size() > 256 || p.webhookSecret->size() < 7)) {
        throw EngineError(ErrorCode::invalid_argument,
                          "webhook_secret must look like whsec_<base64 key>");
    }
    if (p.warmPool) {
        const auto& w = *p.warmPool;
        within(w.minWarm, 0, ClientBounds::kMaxWarmBots, "warm_pool.min_warm");
        within(w.headroom, 0, ClientBounds::kMaxWarmBots, "warm_pool.headroom");
        if (w.maxWarm) within(*w.maxWarm, 0, ClientBounds::kMaxWarmBots, "warm_pool.max_warm");
        within(w.warmTtlS, 1, ClientBounds::kMaxWarmTtlS, "warm_pool.warm_ttl_s");
        within(w.leadTimeS, 0, ClientBounds::kMaxLeadTimeS, "warm_pool.lead_time_s");
    }
}

}  // namespace

const char* nameOf(UnavailablePolicy policy) {
    return policy == UnavailablePolicy::admit_within_share ? "admit_within_share" : "refuse";
}

std::optional<UnavailablePolicy> parseUnavailablePolicy(const std::string& text) {
    if (text == "refuse") return UnavailablePolicy::refuse;
    if (text == "admit_within_share") return UnavailablePolicy::admit_within_share;
    return std::nullopt;
}

const char* nameOf(ClientMode mode) {
    return mode == ClientMode::observe ? "observe" : "enforce";
}

std::optional<ClientMode> parseClientMode(const std::string& text) {
    if (text == "enforce") return ClientMode::enforce;
    if (text == "observe") return ClientMode::observe;
    return std::nullopt;
}

ClientRegistry::PutResult ClientRegistry::putIn(Connection& c, int64_t now, const std::string& id,
                                                const ClientPatch& p, PutMode mode) {
    auto existing = findIn(c, id);
    if (existing && mode == PutMode::create)
        throw EngineError(ErrorCode::conflict, "client " + id + " already exists");
    if (!existing && mode == PutMode::update)
        throw EngineError(ErrorCode::not_found, "no client " + id);
    if (!existing && !p.maxConcurrent) {
        throw EngineError(ErrorCode::invalid_argument,
                          "max_concurrent is required for a new client");
    }
    Client k = existing.value_or(Client{});
    k.id = id;
    if (!existing) k.name = id;
    if (p.name) k.name = *p.name;
    if (p.maxConcurrent) k.maxConcurrent = *p.maxConcurrent;
    if (p.enabled) k.enabled = *p.enabled;
    if (p.mode) k.mode = *p.mode;
    if (p.ringTimeoutS) k.ringTimeoutS = *p.ringTimeoutS;
    if (p.maxCallS) k.maxCallS = *p.maxCallS;
    if (p.botsRequired) k.botsRequired = *p.botsRequired;
    if (p.onDatabaseUnavailable) k.onDatabaseUnavailable = *p.onDatabaseUnavailable;
    if (k.botsRequired && k.onDatabaseUnavailable == UnavailablePolicy::admit_within_share) {
        // An offline admission cannot take a bot: the bots are in the database.
        throw EngineError(ErrorCode::invalid_argument,
                          "on_database_unavailable admit_within_share cannot be combined with "
                          "bots_required");
    }
    if (p.warmPool) {
        const auto& w = *p.warmPool;
        if (w.minWarm) k.warmPool.minWarm = *w.minWarm;
        if (w.headroom) k.warmPool.headroom = *w.headroom;
        if (w.maxWarm) k.warmPool.maxWarm = *w.maxWarm;
        if (w.warmTtlS) k.warmPool.warmTtlS = *w.warmTtlS;
        if (w.leadTimeS) k.warmPool.leadTimeS = *w.leadTimeS;
    }
    if (k.warmPool.maxWarm && *k.warmPool.maxWarm < k.warmPool.minWarm) {
        throw EngineError(ErrorCode::invalid_argument,
                          "warm_pool.max_warm (" + std::to_string(*k.warmPool.maxWarm) +
                              ") must be at least min_warm (" + std::to_string(k.warmPool.minWarm) +
                              ")");
    }
    Query q(c, existing ? kUpdateClient : kInsertClient);
    q->bind(1, k.id);
    q->bind(2, k.name);
    q->bind(3, k.maxConcurrent);
    q->bind(4, k.enabled ? 1 : 0);
    q->bind(5, nameOf(k.mode));
    q->bind(6, k.ringTimeoutS);
    q->bind(7, k.maxCallS);
    q->bind(8, now);
    q->bind(9, k.botsRequired ? 1 : 0);
    q->bind(10, k.warmPool.minWarm);
    q->bind(11, k.warmPool.headroom);
    if (k.warmPool.maxWarm) q->bind(12, *k.warmPool.maxWarm);
    q->bind(13, k.warmPool.warmTtlS);
    q->bind(14, k.warmPool.leadTimeS);
    q->bind(15, nameOf(k.onDatabaseUnavailable));
    q.run();
    if (p.twilio) {
        Query current(c, kTwilioAccountUse);
        current->bind(1, p.twilio->accountSid);
        current->bind(2, id);
        if (current.step() && current->getColumn(0).getString() != p.twilio->authToken &&
            current->getColumn(1).getInt64() > 0 && !p.twilio->rotateAuthToken) {
            throw EngineError(ErrorCode::conflict,
                              "twilio account " + p.twilio->accountSid + " is used by " +
                                  std::to_string(current->getColumn(1).getInt64()) +
                                  " other client(s) with another auth_token: send the same token, "
                                  "or \"rotate_auth_token\": true to replace it for all of them");
        }
        Query a(c, kPutTwilioAccount);
        a->bind(1, p.twilio->accountSid);
        a->bind(2, p.twilio->authToken);
        a->bind(3, now);
        a.run();
        Query copy(c, kCopyTwilioToken);
        copy->bind(1, p.twilio->accountSid);
        copy->bind(2, p.twilio->authToken);
        copy.run();
        Query t(c, kPutTwilio);
        t->bind(1, id);
        t->bind(2, p.twilio->accountSid);
        t->bind(3, p.twilio->authToken);
        if (p.twilio->voiceUrl) t->bind(4, *p.twilio->voiceUrl);
        t->bind(5, now);
        t.run();
    }
    if (p.webhookSecret) {
        Query w(c, kPutWebhookSecret);
        w->bind(1, id);
        w->bind(2, *p.webhookSecret);
        w->bind(3, now);
        w.run();
    }
    return PutResult{*findIn(c, id), !existing};
}

std::optional<Client> ClientRegistry::findIn(Connection& c, const std::string& id) {
    Query q(c, kFindClient);
    q->bind(1, id);
    if (!q.step()) return std::nullopt;
    return readClient(*q);
}

std::vector<Client> ClientRegistry::listIn(Connection& c) {
    Query q(c, kListClients);
    std::vector<Client> out;
    while (q.step()) out.push_back(readClient(*q));
    return out;
}

GlobalSettings ClientRegistry::globalIn(Connection& c) {
    Query q(c, kGlobal);
    q.step();
    return GlobalSettings{q->getColumn(0).getInt64(), q->getColumn(1).getInt64()};
}

Client ClientRegistry::create(const std::string& id, const ClientPatch& patch) {
    validate(id, patch);
    return writer_.run(
        [&](Connection& c) { return putIn(c, clock_.nowMs(), id, patch, PutMode::create).client; });
}

Client ClientRegistry::update(const std::string& id, const ClientPatch& patch) {
    validate(id, patch);
    return writer_.run(
        [&](Connection& c) { return putIn(c, clock_.nowMs(), id, patch, PutMode::update).client; });
}

ClientRegistry::PutResult ClientRegistry::put(const std::string& id, const ClientPatch& patch,
                                              Deadline deadline) {
    validate(id, patch);
    return writer_.run(
        [&](Connection& c) { return putIn(c, clock_.nowMs(), id, patch, PutMode::upsert); },
        deadline);
}

std::optional<Client> ClientRegistry::find(const std::string& id) {
    return readers_.read([&](Connection& c) { return findIn(c, id); });
}

std::vector<Client> ClientRegistry::list() {
    return readers_.read([](Connection& c) { return listIn(c); });
}

GlobalSettings ClientRegistry::setGlobalLimit(int64_t limit, Deadline deadline) {
    if (limit < 0 || limit > ClientBounds::kMaxConcurrent) {
        throw EngineError(ErrorCode::invalid_argument,
                          "the global limit must be an integer from 0 to " +
                              std::to_string(ClientBounds::kMaxConcurrent));
    }
    return writer_.run(
        [&](Connection& c) {
            Query q(c, kSetGlobal);
            q->bind(1, limit);
            q->bind(2, clock_.nowMs());
            q.run();
            return globalIn(c);
        },
        deadline);
}

GlobalSettings ClientRegistry::global() {
    return readers_.read([](Connection& c) { return globalIn(c); });
}

}  // namespace calltrack::db
