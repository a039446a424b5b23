#pragma once
// The `calltrack` command line: parses arguments and runs one subcommand.

namespace calltrack::app {

// Returns the process exit status (app/cli/ExitCode.h); never throws.
int runCli(int argc, char** argv);

}  // namespace calltrack::app
