#pragma once
// `calltrack admit`, `end` and `calls`: one call admitted, one ended, and the
// calls listed, from the command line (the CLI side of POST /v1/calls,
// POST /v1/calls/{id}/end and GET /v1/calls).
#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds `admit`, `end` and `calls` to `app`.
void addCallCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
