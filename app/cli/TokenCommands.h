#pragma once
// `calltrack token create|revoke|list`: API bearer tokens. A secret is printed
// once, at creation; only its hash is stored.
#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds `token` and its subcommands to `app`.
void addTokenCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
