#pragma once
// `calltrack top`: a live terminal view over --db alone, refreshed every
// second: global and per-client utilization as bars against their limits,
// admissions and refusals per second, the oldest live call, bots, leases.
// --once prints one frame (two reads a second apart, for the rates).

#include "app/cli/CliContext.h"

#include <CLI/CLI.hpp>

namespace calltrack::app {

void addTopCommand(CLI::App& app, const CliContext& context);

}  // namespace calltrack::app
