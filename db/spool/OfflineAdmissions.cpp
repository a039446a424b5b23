#include "db/spool/OfflineAdmissions.h"

#include "db/coordination/ProcessRegistry.h"

namespace calltrack::db {

namespace {
const char* const kClientsFree =
    "SELECT id, max(max_concurrent - active, 0) FROM clients WHERE on_database_unavailable = "
    "'admit_within_share' AND enabled = 1 AND mode = 'enforce' AND bots_required = 0";
const char* const kGlobalFree =
    "SELECT max(global_limit - global_active, 0) FROM settings WHERE id = 1";
}  // namespace

ShareSnapshot ShareSnapshot::readIn(Connection& c, int64_t nowMs) {
    ShareSnapshot s;
    s.atMs = nowMs;
    s.liveProcesses = ProcessRegistry::liveIn(c, nowMs);
    {
        Query q(c, kGlobalFree);
        if (q.step()) s.globalFree = q->getColumn(0).getInt64();
    }
    Query q(c, kClientsFree);
    while (q.step()) s.clientFree[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    return s;
}

void OfflineAdmissions::refresh(ShareSnapshot snapshot) {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(snapshot);
}

bool OfflineAdmissions::sharesFor(const std::string& clientId) const {
    std::lock_guard lock(mutex_);
    return snapshot_ && snapshot_->clientFree.count(clientId) > 0;
}

OfflineAdmissions::Grant OfflineAdmissions::grant(const std::string& clientId,
                                                  const std::string& externalId) {
    std::lock_guard lock(mutex_);
    if (const auto it = waiting_.find({clientId, externalId}); it != waiting_.end())
        return it->second ? Grant::again : Grant::no_share;
    if (!snapshot_) {
        ++refused_;
        return Grant::no_share;
    }
    const auto it = snapshot_->clientFree.find(clientId);
    const int64_t n = std::max(1, snapshot_->liveProcesses);
    const int64_t clientShare = it == snapshot_->clientFree.end() ? 0 : it->second / n;
    const int64_t globalShare = snapshot_->globalFree / n;
    const int64_t mine = waitingPerClient_[clientId];
    if (mine >= clientShare || static_cast<int64_t>(waiting_.size()) >= globalShare) {
        ++refused_;
        return Grant::no_share;
    }
    waiting_.emplace(std::make_pair(clientId, externalId), false);
    ++waitingPerClient_[clientId];
    ++granted_;
    return Grant::granted;
}

void OfflineAdmissions::spooled(const std::string& clientId, const std::string& externalId) {
    std::lock_guard lock(mutex_);
    if (const auto it = waiting_.find({clientId, externalId}); it != waiting_.end())
        it->second = true;
}

void OfflineAdmissions::written(const std::string& clientId, const std::string& externalId) {
    std::lock_guard lock(mutex_);
    if (waiting_.erase({clientId, externalId}) && --waitingPerClient_[clientId] <= 0)
        waitingPerClient_.erase(clientId);
}

OfflineStats OfflineAdmissions::stats() const {
    std::lock_guard lock(mutex_);
    OfflineStats s;
    s.granted = granted_;
    s.refused = refused_;
    s.waiting = waiting_.size();
    if (snapshot_) {
        s.snapshotAtMs = snapshot_->atMs;
        s.liveProcesses = snapshot_->liveProcesses;
    }
    return s;
}

}  // namespace calltrack::db
