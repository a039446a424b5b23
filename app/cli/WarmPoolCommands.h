#pragma once
// `calltrack client schedule|schedules|unschedule|warm-pool`: a client's
// scheduled demand and the state of its warm pool, the CLI side of
// POST /v1/clients/{id}/schedule and GET /v1/clients/{id}/warm-pool.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds the subcommands to `client`.
void addWarmPoolCommands(CLI::App& client, const CliContext& context);

}  // namespace calltrack::app
