#include "app/cli/BotCommands.h"

#include "api/json/ResourceJson.h"
#include "app/cli/CellText.h"
#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/bots/BotRegistry.h"
#include "db/tenants/ClientRegistry.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into. They live in a shared_ptr held by the
// callbacks, so they outlive parsing and the command's run.
struct BotArgs {
    std::string id;
    std::string url;
    std::optional<std::string> client;
    int64_t capacity = 1;
    int64_t timeoutMs = 10'000;
    std::optional<std::string> listClient;
    std::optional<std::string> listState;
    bool listJson = false;
};

// An open database and the bot registry, for one command.
struct BotSession {
    explicit BotSession(const CliContext& context)
        : database(context.databaseOptions()), bots(database.writer(), database.readers(), clock) {}
    db::SystemClock clock;
    db::Database database;
    db::BotRegistry bots;
};

std::string orDash(const std::optional<std::string>& text) {
    return text ? *text : "-";
}
std::string owner(const db::Bot& b) {
    return b.clientId ? *b.clientId : "(shared)";
}

void printBot(const db::Bot& b) {
    TextTable t({"field", "value"});
    t.add({"id", b.id});
    t.add({"client", owner(b)});
    t.add({"warmup_url", b.warmupUrl});
    t.add({"capacity", std::to_string(b.capacity)});
    t.add({"warmup_timeout_ms", std::to_string(b.warmupTimeoutMs)});
    t.add({"state", db::nameOf(b.state)});
    t.add({"active_calls", std::to_string(b.activeCalls)});
    t.add({"warm_for", orDash(b.poolClientId)});
    t.add({"state_reason", orDash(b.stateReason)});
    t.add({"state_changed_at", db::isoTime(b.stateChangedAt)});
    t.add({"attempt_id", orDash(b.attemptId)});
    t.add({"warming_until", optTime(b.warmingUntil)});
    t.add({"idle_until", optTime(b.idleUntil)});
    t.add({"retry_at", optTime(b.retryAt)});
    t.add({"failures", std::to_string(b.failures)});
    t.add({"last_warmup_ms", b.lastWarmupMs ? std::to_string(*b.lastWarmupMs) : "-"});
    t.add({"created_at", db::isoTime(b.createdAt)});
    t.add({"updated_at", db::isoTime(b.updatedAt)});
    t.add({"version", std::to_string(b.version)});
    t.print(std::cout);
}

}  // namespace

void addBotCommands(CLI::App& app, const CliContext& context) {
    auto args = std::make_shared<BotArgs>();
    auto* botCmd = app.add_subcommand(
        "bot", "voice bots that carry the calls of bots_required clients (`serve` warms them)");
    botCmd->require_subcommand(1);

    auto* put = botCmd->add_subcommand(
        "put",
        "create a bot or replace its whole configuration (a new url or client sends it cold)");
    put->add_option("id", args->id, "bot id: 1-64 of A-Z a-z 0-9 . _ : -")->required();
    put->add_option("--url", args->url, "warm-up URL (http:// or https://)")->required();
    put->add_option("--client", args->client, "the client that owns it (absent: shared by all)");
    put->add_option("--capacity", args->capacity, "concurrent calls it can carry (1-10000)")
        ->capture_default_str();
    put->add_option("--timeout-ms", args->timeoutMs, "how long one warm-up may take (100-600000)")
        ->capture_default_str();
    put->callback([context, args] {
        context.action = [context, args] {
            db::BotConfig config;
            config.clientId = args->client;
            config.warmupUrl = args->url;
            config.capacity = args->capacity;
            config.warmupTimeoutMs = args->timeoutMs;
            // Checked before opening the database: bad input is a usage error
            // even when the database is missing.
            db::BotRegistry::validate(args->id, config);
            BotSession s(context);
            const auto r = s.bots.put(args->id, config);
            std::cout << (r.created ? "created" : "updated") << " bot " << r.bot.id << "\n";
            printBot(r.bot);
            return kOk;
        };
    });

    auto* show = botCmd->add_subcommand("show", "show one bot");
    show->add_option("id", args->id)->required();
    show->callback([context, args] {
        context.action = [context, args] {
            BotSession s(context);
            const auto bot = s.bots.find(args->id);
            if (!bot) throw db::EngineError(db::ErrorCode::not_found, "no bot " + args->id);
            printBot(*bot);
            return kOk;
        };
    });

    auto* list = botCmd->add_subcommand("list", "list bots by id");
    list->add_option("--client", args->listClient, "only this client's own bots (not shared ones)");
    list->add_option("--state", args->listState, "only bots in this state")
        ->check(CLI::IsMember({"cold", "warming", "ready", "busy", "failed"}));
    list->add_flag("--json", args->listJson, "one JSON document: {\"bots\": [...]}");
    list->callback([context, args] {
        context.action = [context, args] {
            db::BotRegistry::ListFilter filter;
            filter.clientId = args->listClient;
            if (args->listState) filter.state = db::parseBotState(*args->listState);
            BotSession s(context);
            const auto bots = s.database.readers().read([&](db::Connection& c) {
                // An unknown client is a mistake, not an empty fleet.
                if (filter.clientId && !db::ClientRegistry::findIn(c, *filter.clientId))
                    throw db::EngineError(db::ErrorCode::not_found,
                                          "no client " + *filter.clientId);
                return db::BotRegistry::listIn(c, filter);
            });
            if (args->listJson) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& b : bots) list.push_back(api::ResourceJson::bot(b));
                std::cout << nlohmann::json{{"bots", list}}.dump(2) << "\n";
                return kOk;
            }
            TextTable t({"id", "client", "state", "calls/capacity", "warm_for", "since", "reason"});
            for (const auto& b : bots) {
                t.add({b.id, owner(b), db::nameOf(b.state),
                       std::to_string(b.activeCalls) + "/" + std::to_string(b.capacity),
                       orDash(b.poolClientId), db::isoTime(b.stateChangedAt),
                       b.stateReason.value_or("")});
            }
            t.print(std::cout);
            return kOk;
        };
    });

    auto* remove =
        botCmd->add_subcommand("delete", "remove a bot (refused while it carries calls)");
    remove->add_option("id", args->id)->required();
    remove->callback([context, args] {
        context.action = [context, args] {
            BotSession s(context);
            s.bots.remove(args->id);
            std::cout << "deleted bot " << args->id << "\n";
            return kOk;
        };
    });
}

}  // namespace calltrack::app
