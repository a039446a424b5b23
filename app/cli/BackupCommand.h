#pragma once
// `calltrack backup PATH`: a consistent online copy, checked.

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addBackupCommand(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
