#pragma once
// Picks the slot token a new live call takes (schema.sql, "Limit guard"): a
// number in [1, limit] that no live call of the same scope holds. Runs inside
// the writer's transaction. The free-slot tables are hints kept by triggers;
// every candidate is checked against the live calls, so a stale hint costs a
// lookup, never a double booking (the unique index would refuse it anyway).

#include "db/Connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

class SlotAllocator {
public:
    // A free client slot in [1, limit], or nullopt when all are taken.
    static std::optional<int64_t> clientSlot(Connection& c, const std::string& clientId, int64_t limit);
    // A free global slot in [1, limit], or nullopt when all are taken.
    static std::optional<int64_t> globalSlot(Connection& c, int64_t limit);
};

}  // namespace calltrack::db
