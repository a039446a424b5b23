#pragma once
// `calltrack serve`'s command line: every flag (most also an environment
// variable) parsed into ServeOptions, checked, then runServe.
#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

// Adds the `serve` subcommand to `app`.
void addServeCommand(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
