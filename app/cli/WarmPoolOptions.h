#pragma once
// The bot options of `client add` and `client set` (bots_required and the
// warm-pool policy) and how `client show` prints them.

#include "app/cli/TextTable.h"
#include "db/tenants/Client.h"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace calltrack::app {

struct WarmPoolOptions {
    std::optional<std::string> botsRequired;  // yes | no
    std::optional<int64_t> minWarm;
    std::optional<int64_t> headroom;
    std::optional<std::string> maxWarm;  // N | none
    std::optional<int64_t> warmTtlS;
    std::optional<int64_t> leadTimeS;

    void attach(CLI::App* cmd);
    // Only what was given goes into the patch: `client set --headroom 2`
    // keeps the rest of the policy.
    void applyTo(db::ClientPatch& patch) const;
};

// The rows bots_required and warm_pool.* of a client's field/value table.
void addWarmPoolRows(TextTable& table, const db::Client& client);

}  // namespace calltrack::app
