#include "db/coordination/ProcessRegistry.h"

#include <algorithm>

namespace calltrack::db {

namespace {
const char* const kBeat =
    "INSERT INTO processes (holder, pid, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (holder) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
const char* const kForgetDead = "DELETE FROM processes WHERE heartbeat_at < ?1";
const char* const kLeave = "DELETE FROM processes WHERE holder = ?1";
// Relative to the freshest heartbeat, not to now: while the database takes
// no writes no heartbeat is written, and the processes alive when it stopped
// must keep counting (else each would soon think it is alone).
const char* const kLive =
    "SELECT count(*) FROM processes WHERE heartbeat_at > (SELECT max(heartbeat_at) FROM "
    "processes) - ?1";
}  // namespace

ProcessRegistry::ProcessRegistry(GroupCommitWriter& writer, const Clock& clock, std::string holder,
                                 int64_t pid)
    : writer_(writer),
      clock_(clock),
      holder_(std::move(holder)),
      pid_(pid),
      startedAt_(clock.nowMs()) {}

void ProcessRegistry::heartbeat(Deadline deadline) {
    writer_.run(
        [&](Connection& c) {
            const int64_t now = clock_.nowMs();
            Query q(c, kBeat);
            q->bind(1, holder_);
            q->bind(2, pid_);
            q->bind(3, startedAt_);
            q->bind(4, now);
            q.run();
            Query dead(c, kForgetDead);
            dead->bind(1, now - 60'000);
            dead.run();
        },
        deadline);
}

void ProcessRegistry::leave(Deadline deadline) {
    writer_.run(
        [&](Connection& c) {
            Query q(c, kLeave);
            q->bind(1, holder_);
            q.run();
        },
        deadline);
}

int ProcessRegistry::liveIn(Connection& c, int64_t nowMs) {
    Query q(c, kLive);
    (void)nowMs;
    q->bind(1, kLiveMs);
    q.step();
    return std::max(1, q->getColumn(0).getInt());
}

}  // namespace calltrack::db
