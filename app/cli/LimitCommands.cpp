#include "app/cli/LimitCommands.h"

#include "api/json/ResourceJson.h"
#include "app/cli/CellText.h"
#include "app/cli/CliSession.h"
#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/history/UsageQueries.h"
#include "db/tenants/ClientRegistry.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

void addLimitCommands(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<std::optional<int64_t>>();  // N
    auto* limitCmd = app.add_subcommand("limit", "show or set limits");
    limitCmd->require_subcommand(1);
    auto* limitGlobal = limitCmd->add_subcommand(
        "global", "show or set the global limit (applies to new admissions)");
    limitGlobal->add_option("N", (*a), "new global limit (>= 0)");
    limitGlobal->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            const auto g = (*a) ? s.clients.setGlobalLimit(*(*a)) : s.clients.global();
            std::cout << "global limit " << g.limit << ", active " << g.active << "\n";
            return kOk;
        };
    });
}

void addStatusCommand(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<bool>(false);  // --json
    auto* statusCmd = app.add_subcommand("status", "utilization: global and per client");
    statusCmd->add_flag("--json", *a,
                        "one JSON document (the shape of GET /v1/usage's global and clients)");
    statusCmd->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            if (*a) {
                const int64_t since = s.clock.nowMs() - 60000;
                const auto report = s.database.readers().read(
                    [&](db::Connection& c) { return db::UsageQueries::report(c, since); });
                std::cout << api::ResourceJson::usageReport(report).dump(2) << "\n";
                return kOk;
            }
            auto [g, clients] = s.database.readers().read([](db::Connection& c) {
                return std::make_pair(db::ClientRegistry::globalIn(c),
                                      db::ClientRegistry::listIn(c));
            });
            TextTable t(
                {"scope", "mode", "enabled", "active", "limit", "percent", "refused", "flagged"});
            t.add({"GLOBAL", "", "", std::to_string(g.active), std::to_string(g.limit),
                   percentText(g.active, g.limit), "", ""});
            for (const auto& k : clients) {
                t.add({k.id, db::nameOf(k.mode), yesNo(k.enabled), std::to_string(k.active),
                       std::to_string(k.maxConcurrent), percentText(k.active, k.maxConcurrent),
                       std::to_string(k.refusedTotal), std::to_string(k.flaggedTotal)});
            }
            t.print(std::cout);
            return kOk;
        };
    });
}

}  // namespace calltrack::app
