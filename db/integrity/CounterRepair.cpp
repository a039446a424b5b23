#include "db/integrity/CounterRepair.h"

namespace calltrack::db {

namespace {

const char* const kBegin = "INSERT INTO counter_repairs (id) VALUES (1)";
const char* const kEnd = "DELETE FROM counter_repairs";

const char* const kWrongClients =
    "SELECT k.id, k.active, (SELECT count(*) FROM calls c WHERE c.client_id = k.id "
    "AND c.ended_at IS NULL AND c.client_slot IS NOT NULL) AS n FROM clients k WHERE k.active <> n";
const char* const kSetClient = "UPDATE clients SET active = ?2 WHERE id = ?1";

const char* const kWrongGlobal =
    "SELECT s.global_active, (SELECT count(*) FROM calls c WHERE c.ended_at IS NULL "
    "AND c.client_slot IS NOT NULL) AS n FROM settings s WHERE s.id = 1 AND s.global_active <> n";
const char* const kSetGlobal = "UPDATE settings SET global_active = ?1 WHERE id = 1";

// A bot's count and the state the bots CHECKs tie to it: busy exactly while
// it carries calls; a busy bot left with none is ready for its warm TTL.
// Capped at capacity (the CHECK): an over-assigned bot, possible only
// before v4, is reported by `check` until its calls end.
const char* const kWrongBots =
    "SELECT b.id, b.active_calls, min(b.capacity, (SELECT count(*) FROM calls c "
    "WHERE c.bot_id = b.id AND c.ended_at IS NULL)) AS n FROM bots b WHERE b.active_calls <> n";
const char* const kSetBot =
    "UPDATE bots SET active_calls = ?2, "
    "state = CASE WHEN ?2 > 0 THEN 'busy' WHEN state = 'busy' THEN 'ready' ELSE state END, "
    "idle_until = CASE WHEN ?2 > 0 THEN NULL WHEN state = 'busy' THEN ?3 + 1000 * "
    "coalesce((SELECT k.warm_ttl_s FROM clients k WHERE k.id = bots.pool_client_id), 300) "
    "ELSE idle_until END, "
    "warming_until = CASE WHEN ?2 > 0 THEN NULL ELSE warming_until END, "
    "retry_at = CASE WHEN ?2 > 0 THEN NULL ELSE retry_at END, "
    "state_reason = 'check --repair: counter ' || active_calls || ' -> ' || ?2, "
    "state_changed_at = ?3, updated_at = ?3, version = version + 1 WHERE id = ?1";

}  // namespace

std::vector<std::string> CounterRepair::run(GroupCommitWriter& writer, const Clock& clock,
                                            Deadline deadline) {
    return writer.run(
        [&](Connection& c) {
            const int64_t now = clock.nowMs();
            std::vector<std::string> changes;
            Query(c, kBegin).run();
            std::vector<std::pair<std::string, int64_t>> clients;
            {
                Query q(c, kWrongClients);
                while (q.step()) {
                    const std::string id = q->getColumn(0).getString();
                    const int64_t from = q->getColumn(1).getInt64();
                    const int64_t to = q->getColumn(2).getInt64();
                    clients.emplace_back(id, to);
                    changes.push_back("client " + id + ": active " + std::to_string(from) + " -> " +
                                      std::to_string(to));
                }
            }
            for (const auto& [id, n] : clients) {
                Query q(c, kSetClient);
                q->bind(1, id);
                q->bind(2, n);
                q.run();
            }
            std::optional<int64_t> global;
            {
                Query q(c, kWrongGlobal);
                if (q.step()) {
                    global = q->getColumn(1).getInt64();
                    changes.push_back("global_active " +
                                      std::to_string(q->getColumn(0).getInt64()) + " -> " +
                                      std::to_string(*global));
                }
            }
            if (global) {
                Query q(c, kSetGlobal);
                q->bind(1, *global);
                q.run();
            }
            std::vector<std::pair<std::string, int64_t>> bots;
            {
                Query q(c, kWrongBots);
                while (q.step()) {
                    const std::string id = q->getColumn(0).getString();
                    const int64_t to = q->getColumn(2).getInt64();
                    bots.emplace_back(id, to);
                    changes.push_back("bot " + id + ": active_calls " +
                                      std::to_string(q->getColumn(1).getInt64()) + " -> " +
                                      std::to_string(to));
                }
            }
            for (const auto& [id, n] : bots) {
                Query q(c, kSetBot);
                q->bind(1, id);
                q->bind(2, n);
                q->bind(3, now);
                q.run();
            }
            Query(c, kEnd).run();
            return changes;
        },
        deadline);
}

}  // namespace calltrack::db
