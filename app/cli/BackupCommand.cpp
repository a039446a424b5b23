#include "app/cli/BackupCommand.h"

#include "app/cli/ExitCode.h"
#include "db/integrity/InvariantChecker.h"
#include "db/storage/OnlineBackup.h"

#include <iostream>
#include <memory>

namespace calltrack::app {

void addBackupCommand(CLI::App& app, const CliContext& context) {
    auto target = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "backup",
        "copy the database while servers run (one consistent state, fsynced), then check the "
        "copy; the target must not exist");
    cmd->add_option("PATH", *target, "the new file")->required();
    cmd->callback([&context, target] {
        context.action = [&context, target] {
            const auto options = context.databaseOptions();
            const auto r = db::OnlineBackup::copy(options.path, *target, options.busyTimeoutMs);
            std::cout << "backup " << *target << ": " << r.pages << " pages, " << r.bytes
                      << " bytes\n";
            auto copyOptions = options;
            copyOptions.path = *target;
            db::Database copy(copyOptions);
            db::SystemClock clock;
            const auto report = copy.readers().read([&](db::Connection& c) {
                return db::InvariantChecker::run(c, clock.nowMs(), 5000);
            });
            for (const auto& v : report.violations) std::cout << "VIOLATED " << v << "\n";
            std::cout << (report.ok() ? "copy checked: ok" : "copy check FAILED") << " ("
                      << report.violations.size() << " violations, " << report.warnings.size()
                      << " warnings)\n";
            return report.ok() ? kOk : kFailure;
        };
    });
}

}  // namespace calltrack::app
