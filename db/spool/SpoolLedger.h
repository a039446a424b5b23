#pragma once
// spool_applied: the keys of spool records whose events are applied, each
// written in the same transaction as its event, so a record is applied at
// most once however often it is replayed.

#include "db/storage/Connection.h"

#include <optional>
#include <string>

namespace calltrack::db {

class SpoolLedger {
  public:
    static std::optional<std::string> outcomeOf(Connection& c, const std::string& key);
    static void record(Connection& c, const std::string& key, int64_t nowMs,
                       const std::string& outcome);
    // Keys are kept this long after they were applied: far longer than a
    // record can wait in a segment that is still being replayed.
    static constexpr int64_t kKeepMs = 7ll * 24 * 3600 * 1000;
    // Deletes up to `limit` keys applied before `cutoffMs`; returns how many.
    static int purgeOlderThan(Connection& c, int64_t cutoffMs, int limit);
};

}  // namespace calltrack::db
