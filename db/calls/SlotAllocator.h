#pragma once
// Picks the slot tokens a new live call takes (schema.sql, "Limit guard"): a
// client slot and a global slot, each a number in [1, limit] that no live
// call of the same scope holds. Runs inside the writer's transaction.
//
// The free-slot tables are hints kept by triggers. A hint is used only if no
// live call holds that number (checked in the same statement), so a wrong
// hint costs a lookup, never a double booking - and the unique indexes would
// refuse one anyway.

#include "db/storage/Connection.h"

#include <cstdint>
#include <string>

namespace calltrack::db {

class SlotAllocator {
  public:
    struct Slots {
        int64_t client = 0;  // 0: none free
        int64_t global = 0;
    };
    static Slots allocate(Connection& c, const std::string& clientId, int64_t clientLimit,
                          int64_t globalLimit);
};

}  // namespace calltrack::db
