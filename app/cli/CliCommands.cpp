#include "app/cli/CliCommands.h"

#include "app/cli/AlertCommands.h"
#include "app/cli/BackupCommand.h"
#include "app/cli/BotCommands.h"
#include "app/cli/CallCommands.h"
#include "app/cli/CapacityCommands.h"
#include "app/cli/CliContext.h"
#include "app/cli/ClientCommands.h"
#include "app/cli/DatabaseCommands.h"
#include "app/cli/ExitCode.h"
#include "app/cli/LimitCommands.h"
#include "app/cli/ServeCommandLine.h"
#include "app/cli/SpoolCommands.h"
#include "app/cli/TokenCommands.h"
#include "app/cli/TopCommand.h"
#include "app/cli/WarmPoolCommands.h"
#include "db/EngineError.h"
#include "db/storage/Database.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

namespace calltrack::app {

namespace {

// Options shared by every command that opens a database.
struct Common {
    std::string db = "calltrack.db";
    int busyTimeoutMs = 5000;
    std::string synchronous = "full";

    db::DatabaseOptions databaseOptions() const {
        db::DatabaseOptions o;
        o.path = db;
        o.busyTimeoutMs = busyTimeoutMs;
        o.durability = synchronous == "normal" ? db::Durability::normal : db::Durability::full;
        o.readers = 1;
        return o;
    }
};

}  // namespace

int runCli(int argc, char** argv) {
    CLI::App app{"calltrack: concurrent-call admission control on an embedded SQLite database"};
    app.require_subcommand(1);
    app.fallthrough();
    Common common;
    app.add_option("--db", common.db, "database file")
        ->envname("CALLTRACK_DB")
        ->capture_default_str();
    app.add_option("--busy-timeout-ms", common.busyTimeoutMs,
                   "how long to wait for another writer's lock")
        ->capture_default_str();
    app.add_option(
           "--synchronous", common.synchronous,
           "full: every answered admission survives power loss; normal: faster, may lose the last "
           "commits on power loss")
        ->check(CLI::IsMember({"full", "normal"}))
        ->envname("CALLTRACK_SYNCHRONOUS")
        ->capture_default_str();

    std::function<int()> action;

    const CliContext context{[&] { return common.databaseOptions(); }, action};
    // In this order in --help.
    addServeCommand(app, context);
    addMigrateCommand(app, context);
    CLI::App& clientCmd = addClientCommands(app, context);
    addWarmPoolCommands(clientCmd, context);  // client schedule|schedules|unschedule|warm-pool
    addBotCommands(app, context);
    addSpoolCommands(app, context);
    addBackupCommand(app, context);
    addCapacityCommands(app, context);  // history, capacity, capacity plan
    addTopCommand(app, context);
    addAlertCommands(app, context);
    addLimitCommands(app, context);
    addRetentionCommand(app, context);
    addCallCommands(app, context);  // admit, end, calls
    addTokenCommands(app, context);
    addStatusCommand(app, context);
    addCheckCommand(app, context);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "calltrack: " << e.what() << " (see calltrack --help)\n";
        return kUsage;
    }
    try {
        return action ? action() : kUsage;
    } catch (const db::EngineError& e) {
        std::cerr << "calltrack: " << e.what() << "\n";
        return exitCodeFor(e.code());
    } catch (const std::exception& e) {
        std::cerr << "calltrack: " << e.what() << "\n";
        return kFailure;
    }
}

}  // namespace calltrack::app
