#include "app/cli/ClientCommands.h"

#include "api/json/ResourceJson.h"
#include "app/cli/CellText.h"
#include "app/cli/CliSession.h"
#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "app/cli/WarmPoolOptions.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/tenants/ClientRegistry.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Client options shared by `client add` and `client set`.
struct ClientArgs {
    std::string id;
    std::optional<std::string> name;
    std::optional<int64_t> limit;
    std::optional<std::string> mode;
    bool enable = false;
    bool disable = false;
    std::optional<int64_t> ringTimeout;
    std::optional<int64_t> maxCall;
    std::optional<std::string> onDatabaseUnavailable;
    WarmPoolOptions warmPool;

    void attach(CLI::App* cmd, bool limitRequired) {
        cmd->add_option("id", id, "client id: 1-64 of A-Z a-z 0-9 . _ : -")->required();
        auto* l = cmd->add_option("--limit,--max-concurrent", limit,
                                  "concurrent calls this client may hold");
        if (limitRequired) l->required();
        cmd->add_option("--name", name, "display name");
        cmd->add_option("--mode", mode,
                        "enforce (refuse over the limit) or observe (admit, flag, count)")
            ->check(CLI::IsMember({"enforce", "observe"}));
        cmd->add_flag("--enable", enable, "accept admissions");
        cmd->add_flag("--disable", disable, "refuse every admission (client_disabled)");
        cmd->add_option("--ring-timeout", ringTimeout,
                        "seconds a call may go without an event before it is answered");
        cmd->add_option("--max-call", maxCall,
                        "seconds an answered call may go without an event or heartbeat");
        cmd->add_option("--on-database-unavailable", onDatabaseUnavailable,
                        "refuse (503), or admit_within_share: each serve admits up to its share "
                        "of the free slots last seen, written when the database is back")
            ->check(CLI::IsMember({"refuse", "admit_within_share"}));
        warmPool.attach(cmd);
    }

    db::ClientPatch patch() const {
        if (enable && disable)
            throw db::EngineError(db::ErrorCode::invalid_argument,
                                  "--enable and --disable exclude each other");
        db::ClientPatch p;
        p.name = name;
        p.maxConcurrent = limit;
        if (mode) p.mode = db::parseClientMode(*mode);
        if (enable) p.enabled = true;
        if (disable) p.enabled = false;
        p.ringTimeoutS = ringTimeout;
        p.maxCallS = maxCall;
        if (onDatabaseUnavailable)
            p.onDatabaseUnavailable = db::parseUnavailablePolicy(*onDatabaseUnavailable);
        warmPool.applyTo(p);
        return p;
    }
};

// Values the options are parsed into, in a shared_ptr held by the callbacks,
// so they outlive parsing and the command's run.
struct ClientCommandArgs {
    ClientArgs addArgs, setArgs;
    std::string showId;
    bool showJson = false, listJson = false;
};

void printClient(const db::Client& k) {
    TextTable t({"field", "value"});
    t.add({"id", k.id});
    t.add({"name", k.name});
    t.add({"max_concurrent", std::to_string(k.maxConcurrent)});
    t.add({"active", std::to_string(k.active)});
    t.add({"enabled", yesNo(k.enabled)});
    t.add({"mode", db::nameOf(k.mode)});
    t.add({"on_database_unavailable", db::nameOf(k.onDatabaseUnavailable)});
    t.add({"ring_timeout_s", std::to_string(k.ringTimeoutS)});
    t.add({"max_call_s", std::to_string(k.maxCallS)});
    t.add({"refused_total", std::to_string(k.refusedTotal)});
    t.add({"flagged_total", std::to_string(k.flaggedTotal)});
    addWarmPoolRows(t, k);
    t.add({"created_at", db::isoTime(k.createdAt)});
    t.add({"updated_at", db::isoTime(k.updatedAt)});
    t.print(std::cout);
}

}  // namespace

CLI::App& addClientCommands(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<ClientCommandArgs>();
    auto* clientCmd = app.add_subcommand("client", "manage clients");
    clientCmd->require_subcommand(1);
    auto* clientAdd = clientCmd->add_subcommand("add", "create a client");
    a->addArgs.attach(clientAdd, true);
    clientAdd->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            printClient(s.clients.create(a->addArgs.id, a->addArgs.patch()));
            return kOk;
        };
    });
    auto* clientSet =
        clientCmd->add_subcommand("set", "change a client (limits apply to new admissions only)");
    a->setArgs.attach(clientSet, false);
    clientSet->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            printClient(s.clients.update(a->setArgs.id, a->setArgs.patch()));
            return kOk;
        };
    });
    auto* clientShow = clientCmd->add_subcommand("show", "show one client");
    clientShow->add_option("id", a->showId)->required();
    clientShow->add_flag("--json", a->showJson, "one JSON document (the API's client object)");
    clientShow->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            auto k = s.clients.find(a->showId);
            if (!k) throw db::EngineError(db::ErrorCode::not_found, "no client " + a->showId);
            if (a->showJson)
                std::cout << api::ResourceJson::client(*k).dump(2) << "\n";
            else
                printClient(*k);
            return kOk;
        };
    });
    auto* clientList = clientCmd->add_subcommand("list", "list clients");
    clientList->add_flag("--json", a->listJson, "one JSON document: {\"clients\": [...]}");
    clientList->callback([context, a] {
        context.action = [context, a] {
            CliSession s(context);
            if (a->listJson) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& k : s.clients.list()) list.push_back(api::ResourceJson::client(k));
                std::cout << nlohmann::json{{"clients", list}}.dump(2) << "\n";
                return kOk;
            }
            TextTable t({"id", "name", "mode", "enabled", "active", "limit", "percent"});
            for (const auto& k : s.clients.list()) {
                t.add({k.id, k.name, db::nameOf(k.mode), yesNo(k.enabled), std::to_string(k.active),
                       std::to_string(k.maxConcurrent), percentText(k.active, k.maxConcurrent)});
            }
            t.print(std::cout);
            return kOk;
        };
    });
    return *clientCmd;
}

}  // namespace calltrack::app
