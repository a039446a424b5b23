#pragma once
// `calltrack spool show|replay`: the intake spool for operators.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addSpoolCommands(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
