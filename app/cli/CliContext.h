#pragma once
// What every command group (app/cli/*Commands) needs from runCli: the database options as parsed,
// and where to put the work of the subcommand that was chosen. Commands run only after the whole
// command line parsed, so a usage error never opens (or locks) the database.

#include "db/storage/Database.h"

#include <functional>

namespace calltrack::app {

struct CliContext {
    // --db, --busy-timeout-ms, --synchronous: read when the command runs,
    // because global options are parsed after the subcommands are defined.
    std::function<db::DatabaseOptions()> databaseOptions;
    // Set by the parsed subcommand's callback; runCli runs it and maps the
    // EngineError it may throw to an exit status (app/cli/ExitCode.h).
    std::function<int()>& action;
};

}  // namespace calltrack::app
