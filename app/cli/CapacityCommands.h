#pragma once
// `calltrack history`, `calltrack capacity` and `calltrack capacity plan`:
// the utilization history and capacity planning of GET /v1/usage/history and
// GET /v1/capacity, over --db alone (docs/MONITORING.md); --json prints the
// API's documents.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addCapacityCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
