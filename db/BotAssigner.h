#pragma once
// Chooses the bot an admitted call takes, inside the admission transaction:
// a warm bot (ready within its TTL, or busy) of the client or shared, with
// free capacity. The client's own bots come first, then shared ones; among
// those, the busiest bot that still has room (packing calls onto few bots
// lets the others go idle and cool, which is what saves money).
//
// The choice is a hint: the schema's insert guard and the bots CHECK
// (active_calls <= capacity) are what make over-assignment impossible.

#include "db/Connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

class BotAssigner {
  public:
    static std::optional<std::string> pickIn(Connection& c, int64_t nowMs,
                                             const std::string& clientId);
    // How long a caller refused for bot_unavailable should wait: the typical
    // warm-up time of the client's bots (clamped), since the refusal wakes
    // the scheduler to warm one.
    static int64_t retryAfterMsIn(Connection& c, const std::string& clientId);
};

}  // namespace calltrack::db
