#include "app/cli/DatabaseCommands.h"

#include "app/cli/CliSession.h"
#include "app/cli/ExitCode.h"
#include "db/integrity/CounterRepair.h"
#include "db/integrity/InvariantChecker.h"
#include "db/storage/Database.h"
#include "db/storage/RetentionPurge.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into, in a shared_ptr held by the callbacks,
// so they outlive parsing and the command's run.
struct CheckArgs {
    int64_t graceMs = 5000;
    bool repair = false;
};

}  // namespace

void addMigrateCommand(CLI::App& app, const CliContext& context) {
    app.add_subcommand(
           "migrate",
           "create the database or upgrade its schema in place (safe while calltrack runs)")
        ->callback([context] {
            context.action = [context] {
                const auto options = context.databaseOptions();
                const auto& db = options.path;
                const auto r = db::Database::migrate(options);
                if (r.created)
                    std::cout << "created " << db << " at schema version " << r.toVersion << "\n";
                else if (r.fromVersion == r.toVersion)
                    std::cout << db << " is already at schema version " << r.toVersion << "\n";
                else
                    std::cout << "upgraded " << db << " from schema version " << r.fromVersion
                              << " to " << r.toVersion << "\n";
                return kOk;
            };
        });
}

void addRetentionCommand(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<std::optional<int64_t>>();  // --hours
    auto* retentionCmd = app.add_subcommand(
        "retention",
        "show or set how long ended calls and their events are kept (serve purges them)");
    retentionCmd->add_option("--hours", (*a), "keep this many hours (1 to 876000; 720 = 30 days)")
        ->check(CLI::Range(int64_t{1}, int64_t{876000}));
    retentionCmd->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            db::RetentionPurge retention(s.database.writer(), s.clock);
            const int64_t hours =
                (*a) ? retention.setRetentionHours(*(*a)) : retention.retentionHours();
            std::cout << "retention " << hours << " hours (" << hours / 24 << " days)\n";
            return kOk;
        };
    });
}

void addCheckCommand(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<CheckArgs>();
    auto* checkCmd = app.add_subcommand(
        "check", "integrity_check plus calltrack's invariants; exit 1 on any violation");
    checkCmd
        ->add_option("--expiry-grace-ms", a->graceMs,
                     "how far past its expiry a live call is reported")
        ->capture_default_str();
    checkCmd->add_flag("--repair", a->repair,
                       "first recompute every counter from the live calls (one transaction) and "
                       "print what changed");
    checkCmd->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            if (a->repair) {
                const auto changes = db::CounterRepair::run(s.database.writer(), s.clock);
                for (const auto& change : changes) std::cout << "repaired " << change << "\n";
                std::cout << "repair: " << changes.size() << " counters changed\n";
            }
            const auto report = s.database.readers().read([&](db::Connection& c) {
                return db::InvariantChecker::run(c, s.clock.nowMs(), a->graceMs);
            });
            for (const auto& p : report.passed) std::cout << "ok       " << p << "\n";
            for (const auto& w : report.warnings) std::cout << "WARNING  " << w << "\n";
            for (const auto& v : report.violations) std::cout << "VIOLATED " << v << "\n";
            std::cout << (report.ok() ? "check passed" : "check FAILED") << ": "
                      << report.violations.size() << " violations, " << report.warnings.size()
                      << " warnings\n";
            return report.ok() ? kOk : kFailure;
        };
    });
}

}  // namespace calltrack::app
