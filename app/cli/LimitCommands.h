#pragma once
// `calltrack limit global [N]` and `calltrack status`: the global limit, and
// utilization against every limit (the CLI side of /v1/limits/global and
// GET /v1/usage).
#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds `limit` and its subcommands to `app`.
void addLimitCommands(CLI::App& app, const CliContext& context);
// Adds `status` to `app`.
void addStatusCommand(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
