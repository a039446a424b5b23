#pragma once
// `calltrack client add|set|show|list`: clients and their limits from the
// command line (the CLI side of PUT|PATCH|GET /v1/clients). The warm-pool
// commands (app/cli/WarmPoolCommands) join the same `client` command.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds `client` and its subcommands to `app`; returns `client`.
CLI::App& addClientCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
