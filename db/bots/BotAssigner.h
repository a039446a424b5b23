#pragma once
// Chooses the bot an admitted call takes, inside the admission transaction:
// a warm bot (ready within its TTL, or busy) of the client or shared, with
// free capacity. The client's own bots come first, then shared ones; among
// those, the busiest bot that still has room (packing calls onto few bots
// lets the others go idle and cool, which is what saves money).
//
// The choice is a hint: the call also takes a free capacity slot of the bot
// (calls.bot_slot), and the schema's insert guard (slot within capacity)
// with the unique index calls_live_bot_slot is what makes over-assignment
// impossible for any writer, whatever bots.active_calls says.

#include "db/storage/Connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

class BotAssigner {
  public:
    struct Pick {
        std::string botId;
        int64_t slot = 0;  // free among the bot's live calls, within its capacity
    };
    static std::optional<Pick> pickIn(Connection& c, int64_t nowMs, const std::string& clientId);
    // How long a caller refused for bot_unavailable should wait: the typical
    // warm-up time of the client's bots (clamped), since the refusal wakes
    // the scheduler to warm one.
    static int64_t retryAfterMsIn(Connection& c, const std::string& clientId);
};

}  // namespace calltrack::db
