#include "db/bots/DemandSchedules.h"

#include "db/EngineError.h"
#include "db/TextRules.h"

namespace calltrack::db {

namespace {

const char* const kClientExists = "SELECT 1 FROM clients WHERE id = ?1";
const char* const kInsert =
    "INSERT INTO demand_schedules (client_id, starts_at, ends_at, expected_concurrency, "
    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const char* const kUpcoming =
    "SELECT id, client_id, starts_at, ends_at, expected_concurrency, created_at "
    "FROM demand_schedules WHERE client_id = ?1 AND ends_at > ?2 ORDER BY starts_at, id";
const char* const kExpectedNow =
    "SELECT coalesce(sum(expected_concurrency), 0) FROM demand_schedules "
    "WHERE client_id = ?1 AND ends_at > ?2 AND starts_at - ?3 <= ?2";
const char* const kDelete = "DELETE FROM demand_schedules WHERE client_id = ?1 AND id = ?2";

// A campaign longer than this is more likely a unit mistake (seconds for ms).
constexpr int64_t kMaxSpanMs = 31LL * 86'400'000;

}  // namespace

DemandSchedule DemandSchedules::add(const std::string& clientId, int64_t startsAt, int64_t endsAt,
                                    int64_t expectedConcurrency, Deadline deadline) {
    TextRules::requireClientId(clientId);
    if (endsAt <= startsAt)
        throw EngineError(ErrorCode::invalid_argument, "ends_at must be after starts_at");
    if (endsAt - startsAt > kMaxSpanMs)
        throw EngineError(ErrorCode::invalid_argument, "a schedule may span at most 31 days");
    if (expectedConcurrency < 1 || expectedConcurrency > 1'000'000) {
        throw EngineError(ErrorCode::invalid_argument,
                          "expected_concurrency must be an integer from 1 to 1000000");
    }
    return writer_.run(
        [&](Connection& c) {
            const int64_t now = clock_.nowMs();
            if (endsAt <= now)
                throw EngineError(ErrorCode::invalid_argument, "ends_at is in the past");
            {
                Query q(c, kClientExists);
                q->bind(1, clientId);
                if (!q.step()) throw EngineError(ErrorCode::not_found, "no client " + clientId);
            }
            Query q(c, kInsert);
            q->bind(1, clientId);
            q->bind(2, startsAt);
            q->bind(3, endsAt);
            q->bind(4, expectedConcurrency);
            q->bind(5, now);
            q.run();
            return DemandSchedule{c.lastInsertRowid(), clientId, startsAt, endsAt,
                                  expectedConcurrency, now};
        },
        deadline);
}

std::vector<DemandSchedule> DemandSchedules::upcomingIn(Connection& c, int64_t nowMs,
                                                        const std::string& clientId) {
    Query q(c, kUpcoming);
    q->bind(1, clientId);
    q->bind(2, nowMs);
    std::vector<DemandSchedule> out;
    while (q.step()) {
        out.push_back(DemandSchedule{q->getColumn(0).getInt64(), q->getColumn(1).getString(),
                                     q->getColumn(2).getInt64(), q->getColumn(3).getInt64(),
                                     q->getColumn(4).getInt64(), q->getColumn(5).getInt64()});
    }
    return out;
}

std::vector<DemandSchedule> DemandSchedules::upcoming(const std::string& clientId) {
    return readers_.read([&](Connection& c) { return upcomingIn(c, clock_.nowMs(), clientId); });
}

void DemandSchedules::remove(const std::string& clientId, int64_t scheduleId, Deadline deadline) {
    writer_.run(
        [&](Connection& c) {
            Query q(c, kDelete);
            q->bind(1, clientId);
            q->bind(2, scheduleId);
            if (q.run() == 0) {
                throw EngineError(ErrorCode::not_found, "client " + clientId + " has no schedule " +
                                                            std::to_string(scheduleId));
            }
            return 0;
        },
        deadline);
}

int64_t DemandSchedules::expectedNowIn(Connection& c, int64_t nowMs, const std::string& clientId,
                                       int64_t leadTimeMs) {
    Query q(c, kExpectedNow);
    q->bind(1, clientId);
    q->bind(2, nowMs);
    q->bind(3, leadTimeMs);
    q.step();
    return q->getColumn(0).getInt64();
}

}  // namespace calltrack::db
