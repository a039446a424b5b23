// GET /v1/usage: what every client holds now and was refused in the last
// minute (an admin sees all, a client token its own), and this process's own
// view of what the database never sees: the inbound gate's and webhooks'
// rejections, its connections, the breaker, the WAL, offline admissions and
// the intake spool.

#include "api/json/ResourceJson.h"
#include "api/routes/Routes.h"
#include "db/IsoTime.h"
#include "db/history/LiveState.h"
#include "db/history/UsageQueries.h"

#include <string>

namespace calltrack::api {

void addUsageRoute(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/v1/usage",
        [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            const int64_t since = ctx.clock.nowMs() - 60'000;
            const std::string* only = rc.principal.isAdmin() ? nullptr : &rc.principal.clientId;
            auto report = ctx.database.readers().read(
                [&](db::Connection& c) { return db::UsageQueries::report(c, since, only); });
            auto body = ResourceJson::usageReport(report);
            // This process's own count: the database never saw these.
            body["inbound_gate"] = {
                {"database_unavailable_rejects", ctx.counters.gateDatabaseRejects.load()}};
            // Unauthenticated, so never in the database: this process's counts.
            body["webhook_rejections"] = ctx.webhookRejections.snapshot();
            body["log"] = {{"dropped_lines", ctx.log.dropped()}};
            const auto& conn = ctx.connectionCounters;
            body["connections"] = {{"open", conn.open.load()},
                                   {"overloaded", conn.overloaded.load()},
                                   {"overloaded_unanswered", conn.overloadedUnanswered.load()},
                                   {"request_timeouts", conn.requestTimeouts.load()},
                                   {"idle_closed_early", conn.idleClosedEarly.load()}};
            // Database trouble as this process met it.
            body["database"] = {
                {"breaker", ResourceJson::breaker(ctx.database.writer().breaker().snapshot())},
                {"admissions_refused_unavailable",
                 ctx.counters.admissionsRefusedUnavailable.load()}};
            if (ctx.wal)
                body["database"]["wal"] = ResourceJson::wal(ctx.wal->status(), ctx.clock.nowMs());
            if (ctx.offline) {
                const auto o = ctx.offline->stats();
                body["database"]["offline_admissions"] = {
                    {"granted", o.granted},
                    {"refused", o.refused},
                    {"waiting", o.waiting},
                    {"live_processes", o.liveProcesses},
                    {"free_slots_seen_at", o.snapshotAtMs > 0
                                               ? nlohmann::json(db::isoTime(o.snapshotAtMs))
                                               : nlohmann::json(nullptr)}};
            }
            auto spool = ResourceJson::spool(ctx.intake.spool().stats(),
                                             ctx.intake.spool().options(), ctx.clock.nowMs());
            spool["spooled_answers"] = ctx.counters.eventsSpooled.load();
            spool["refused_answers"] = ctx.counters.eventsRefusedSpoolFull.load();
            body["spool"] = std::move(spool);
            if (rc.principal.isAdmin()) {
                // Who runs the singleton jobs (the dashboard shows it).
                const int64_t now = ctx.clock.nowMs();
                nlohmann::json leases = nlohmann::json::array();
                for (const auto& l : ctx.database.readers().read(
                         [](db::Connection& c) { return db::LiveState::leasesIn(c); }))
                    leases.push_back({{"name", l.name},
                                      {"holder", l.holder},
                                      {"expires_at", db::isoTime(l.expiresAt)},
                                      {"valid", l.expiresAt > now}});
                body["leases"] = std::move(leases);
            }
            sendJson(res, 200, body);
        });
}

}  // namespace calltrack::api
