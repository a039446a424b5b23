#pragma once
// `calltrack bot put|show|list|delete`: the voice bots of issue 4 from the
// command line, the CLI side of PUT|GET|DELETE /v1/bots.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds the `bot` subcommand and its subcommands to `app`.
void addBotCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
