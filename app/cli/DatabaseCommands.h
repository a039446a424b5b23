#pragma once
// The database's own upkeep from the command line: `calltrack migrate` (create
// or upgrade the schema in place), `retention` (how long ended calls are
// kept) and `check` (integrity and calltrack's invariants, `--repair`
// recomputes the counters).
#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addMigrateCommand(CLI::App& app, const CliContext& context);
void addRetentionCommand(CLI::App& app, const CliContext& context);
void addCheckCommand(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
