#pragma once
// `calltrack alert rule|receiver|list`: alert rules and receivers over
// --db, and the alerts with their state (docs/ALERTING.md). A running serve
// picks changes up at its next evaluation (every second).

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addAlertCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
