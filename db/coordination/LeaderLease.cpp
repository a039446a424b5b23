#include "db/coordination/LeaderLease.h"

#include <unistd.h>

#include <random>

namespace calltrack::db {

namespace {
// Take the row if it is free, ours, or expired; keep acquired_at while ours.
const char* const kAcquire =
    "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (name) DO UPDATE SET "
    "  acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE "
    "excluded.acquired_at END, "
    "  holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3";
const char* const kRelease = "DELETE FROM leases WHERE name = ?1 AND holder = ?2";
}  // namespace

LeaderLease::LeaderLease(GroupCommitWriter& writer, const Clock& clock, std::string name,
                         std::string holder, int64_t ttlMs)
    : writer_(writer),
      clock_(clock),
      name_(std::move(name)),
      holder_(std::move(holder)),
      ttlMs_(ttlMs) {}

namespace {
// A renewal that cannot start within a second is as good as lost: the lease
// then runs out by itself (held() says so), and the job thread is free to
// notice a stop.
constexpr auto kWriteDeadline = std::chrono::seconds(1);
}  // namespace

bool LeaderLease::acquireOrRenew() {
    const int64_t attemptAt = clock_.nowMs();
    try {
        const bool won = writer_.run(
            [&](Connection& c) {
                Query q(c, kAcquire);
                q->bind(1, name_);
                q->bind(2, holder_);
                q->bind(3, attemptAt);
                q->bind(4, attemptAt + ttlMs_);
                q.run();
                return c.changes() == 1;
            },
            std::chrono::steady_clock::now() + kWriteDeadline);
        // Measured from before the attempt: the row may say later, never earlier.
        validUntilMs_ = won ? attemptAt + ttlMs_ : 0;
    } catch (...) {
        // Keep whatever validity the last success gave; held() runs it out.
    }
    return held();
}

void LeaderLease::release() {
    if (validUntilMs_.exchange(0) == 0) return;
    try {
        writer_.run(
            [&](Connection& c) {
                Query q(c, kRelease);
                q->bind(1, name_);
                q->bind(2, holder_);
                q.run();
            },
            std::chrono::steady_clock::now() + kWriteDeadline);
    } catch (...) {
        // The lease then simply expires.
    }
}

bool LeaderLease::held() const {
    return clock_.nowMs() < validUntilMs_;
}

std::string LeaderLease::processHolderId() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::random_device rd;
    return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(rd() % 100000);
}

}  // namespace calltrack::db
