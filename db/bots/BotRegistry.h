#pragma once
// Bots: register, reconfigure, read, remove. Writes go through the writer.
//
// Reconfiguring a bot's endpoint or owner sends it back to cold (what was
// warmed is not what is configured now); a bot carrying calls can be neither
// moved to another client, shrunk below its calls, nor removed (conflict).

#include "db/Clock.h"
#include "db/bots/Bot.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

class BotRegistry {
  public:
    BotRegistry(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock)
        : writer_(writer), readers_(readers), clock_(clock) {}

    struct PutResult {
        Bot bot;
        bool created = false;
    };
    // Throws invalid_argument (bad id/url/capacity/timeout, unknown client),
    // conflict (the change would strand its calls).
    PutResult put(const std::string& id, const BotConfig& config, Deadline deadline = noDeadline());
    std::optional<Bot> find(const std::string& id);

    struct ListFilter {
        std::optional<std::string> clientId{};  // that client's own bots
        std::optional<BotState> state{};
    };
    std::vector<Bot> list(const ListFilter& filter);
    // Throws not_found, or conflict while the bot carries calls.
    void remove(const std::string& id, Deadline deadline = noDeadline());

    static void validate(const std::string& id, const BotConfig& config);
    static PutResult putIn(Connection& c, int64_t nowMs, const std::string& id,
                           const BotConfig& config);
    static std::optional<Bot> findIn(Connection& c, const std::string& id);
    static std::vector<Bot> listIn(Connection& c, const ListFilter& filter);

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
};

}  // namespace calltrack::db
