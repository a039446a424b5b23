#include "db/ClientRegistry.h"

#include "db/EngineError.h"
#include "db/TextRules.h"

namespace calltrack::db {

namespace {

const char* const kFindClient =
    "SELECT id, name, max_concurrent, enabled, mode, ring_timeout_s, max_call_s, active, "
    "refused_total, "
    "flagged_total, created_at, updated_at FROM clients WHERE id = ?1";
const char* const kListClients =
    "SELECT id, name, max_concurrent, enabled, mode, ring_timeout_s, max_call_s, active, "
    "refused_total, "
    "flagged_total, created_at, updated_at FROM clients ORDER BY id";
const char* const kInsertClient =
    "INSERT INTO clients (id, name, max_concurrent, enabled, mode, ring_timeout_s, max_call_s, "
    "created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";
const char* const kUpdateClient =
    "UPDATE clients SET name = ?2, max_concurrent = ?3, enabled = ?4, mode = ?5, ring_timeout_s = "
    "?6, "
    "max_call_s = ?7, updated_at = ?8 WHERE id = ?1";
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
    return k;
}

void validate(const std::string& id, const ClientPatch& p) {
    TextRules::requireClientId(id);
    if (p.name && p.name->size() > 200)
        throw EngineError(ErrorCode::invalid_argument, "name must be at most 200 characters");
    if (p.maxConcurrent && *p.maxConcurrent < 0) {
        throw EngineError(ErrorCode::invalid_argument, "max_concurrent must be an integer >= 0");
    }
    if (p.ringTimeoutS && *p.ringTimeoutS <= 0) {
        throw EngineError(ErrorCode::invalid_argument, "ring_timeout_s must be an integer > 0");
    }
    if (p.maxCallS && *p.maxCallS <= 0)
        throw EngineError(ErrorCode::invalid_argument, "max_call_s must be an integer > 0");
}

}  // namespace

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
    Query q(c, existing ? kUpdateClient : kInsertClient);
    q->bind(1, k.id);
    q->bind(2, k.name);
    q->bind(3, k.maxConcurrent);
    q->bind(4, k.enabled ? 1 : 0);
    q->bind(5, nameOf(k.mode));
    q->bind(6, k.ringTimeoutS);
    q->bind(7, k.maxCallS);
    q->bind(8, now);
    q.run();
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

ClientRegistry::PutResult ClientRegistry::put(const std::string& id, const ClientPatch& patch) {
    validate(id, patch);
    return writer_.run(
        [&](Connection& c) { return putIn(c, clock_.nowMs(), id, patch, PutMode::upsert); });
}

std::optional<Client> ClientRegistry::find(const std::string& id) {
    return readers_.read([&](Connection& c) { return findIn(c, id); });
}

std::vector<Client> ClientRegistry::list() {
    return readers_.read([](Connection& c) { return listIn(c); });
}

GlobalSettings ClientRegistry::setGlobalLimit(int64_t limit) {
    if (limit < 0)
        throw EngineError(ErrorCode::invalid_argument, "the global limit must be an integer >= 0");
    return writer_.run([&](Connection& c) {
        Query q(c, kSetGlobal);
        q->bind(1, limit);
        q->bind(2, clock_.nowMs());
        q.run();
        return globalIn(c);
    });
}

GlobalSettings ClientRegistry::global() {
    return readers_.read([](Connection& c) { return globalIn(c); });
}

}  // namespace calltrack::db
