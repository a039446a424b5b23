#include "app/cli/WarmPoolCommands.h"

#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/tenants/ClientRegistry.h"

#include <iostream>
#include <memory>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into, kept alive by the callbacks.
struct WarmPoolArgs {
    std::string clientId;
    std::string startsAt;
    std::string endsAt;
    int64_t concurrency = 0;
    int64_t scheduleId = 0;
};

// An open database and the schedules, for one command.
struct ScheduleSession {
    explicit ScheduleSession(const CliContext& context)
        : database(context.databaseOptions()),
          schedules(database.writer(), database.readers(), clock) {}
    db::SystemClock clock;
    db::Database database;
    db::DemandSchedules schedules;
};

int64_t isoArgument(const char* option, const std::string& text) {
    const auto ms = db::parseIsoTime(text);
    if (!ms) {
        throw db::EngineError(db::ErrorCode::invalid_argument,
                              std::string(option) +
                                  " must be an ISO-8601 UTC time like 2030-01-31T09:00:00Z, not '" +
                                  text + "'");
    }
    return *ms;
}

}  // namespace

void addWarmPoolCommands(CLI::App& client, const CliContext& context) {
    auto args = std::make_shared<WarmPoolArgs>();

    auto* schedule = client.add_subcommand(
        "schedule", "expect N concurrent calls in a window: bots are warm lead_time_s before it");
    schedule->add_option("id", args->clientId)->required();
    schedule->add_option("--starts-at", args->startsAt, "ISO-8601 UTC, e.g. 2030-01-31T09:00:00Z")
        ->required();
    schedule->add_option("--ends-at", args->endsAt, "ISO-8601 UTC, after --starts-at")->required();
    schedule->add_option("--concurrency", args->concurrency, "expected concurrent calls")
        ->required();
    schedule->callback([context, args] {
        context.action = [context, args] {
            // Checked before opening the database: bad input is a usage error.
            const int64_t startsAt = isoArgument("--starts-at", args->startsAt);
            const int64_t endsAt = isoArgument("--ends-at", args->endsAt);
            if (endsAt <= startsAt) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--ends-at must be after --starts-at");
            }
            ScheduleSession s(context);
            const auto added = s.schedules.add(args->clientId, startsAt, endsAt, args->concurrency);
            std::cout << "schedule " << added.id << ": client " << added.clientId << " expects "
                      << added.expectedConcurrency << " concurrent calls from "
                      << db::isoTime(added.startsAt) << " to " << db::isoTime(added.endsAt) << "\n";
            return kOk;
        };
    });

    auto* schedules =
        client.add_subcommand("schedules", "list a client's schedules not yet over, soonest first");
    schedules->add_option("id", args->clientId)->required();
    schedules->callback([context, args] {
        context.action = [context, args] {
            ScheduleSession s(context);
            const auto upcoming = s.database.readers().read([&](db::Connection& c) {
                // An unknown client is a mistake, not an empty schedule.
                if (!db::ClientRegistry::findIn(c, args->clientId))
                    throw db::EngineError(db::ErrorCode::not_found, "no client " + args->clientId);
                return db::DemandSchedules::upcomingIn(c, s.clock.nowMs(), args->clientId);
            });
            TextTable t({"id", "starts_at", "ends_at", "concurrency", "created_at"});
            for (const auto& d : upcoming) {
                t.add({std::to_string(d.id), db::isoTime(d.startsAt), db::isoTime(d.endsAt),
                       std::to_string(d.expectedConcurrency), db::isoTime(d.createdAt)});
            }
            t.print(std::cout);
            return kOk;
        };
    });

    auto* unschedule = client.add_subcommand("unschedule", "remove one of a client's schedules");
    unschedule->add_option("id", args->clientId)->required();
    unschedule->add_option("schedule_id", args->scheduleId, "as `client schedules` lists it")
        ->required();
    unschedule->callback([context, args] {
        context.action = [context, args] {
            ScheduleSession s(context);
            s.schedules.remove(args->clientId, args->scheduleId);
            std::cout << "removed schedule " << args->scheduleId << " of client " << args->clientId
                      << "\n";
            return kOk;
        };
    });

    auto* warmPool = client.add_subcommand(
        "warm-pool", "the warm-pool target of a client, its bots by state, and why");
    warmPool->add_option("id", args->clientId)->required();
    warmPool->callback([context, args] {
        context.action = [context, args] {
            db::SystemClock clock;
            db::Database database(context.databaseOptions());
            const auto st = database.readers().read([&](db::Connection& c) {
                return db::WarmPoolPlanner::statusIn(c, clock.nowMs(), args->clientId);
            });
            const auto& p = st.policy;
            TextTable t({"field", "value"});
            t.add({"client", st.clientId});
            t.add({"bots_required", st.botsRequired ? "yes" : "no"});
            t.add({"target", std::to_string(st.target)});
            t.add({"ready", std::to_string(st.ready)});
            t.add({"warming", std::to_string(st.warming)});
            t.add({"busy", std::to_string(st.busy)});
            t.add({"failed", std::to_string(st.failed)});
            t.add({"cold_available", std::to_string(st.coldAvailable)});
            t.add({"usable_bots", std::to_string(st.usableBots)});
            t.add({"capacity_per_bot", std::to_string(st.capacityPerBot)});
            t.add({"active_calls", std::to_string(st.activeCalls)});
            t.add({"unmet_demand", std::to_string(st.unmetDemand)});
            t.add({"scheduled", std::to_string(st.scheduledConcurrency)});
            t.add({"min_warm", std::to_string(p.minWarm)});
            t.add({"headroom", std::to_string(p.headroom)});
            t.add({"max_warm", p.maxWarm ? std::to_string(*p.maxWarm) : "none"});
            t.add({"warm_ttl_s", std::to_string(p.warmTtlS)});
            t.add({"lead_time_s", std::to_string(p.leadTimeS)});
            t.add({"why", st.why});
            t.print(std::cout);
            return kOk;
        };
    });
}

}  // namespace calltrack::app
