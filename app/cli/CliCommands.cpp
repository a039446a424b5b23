#include "app/cli/CliCommands.h"

#include "api/json/ResourceJson.h"
#include "api/logging/JsonLog.h"
#include "app/cli/AlertCommands.h"
#include "app/cli/BackupCommand.h"
#include "app/cli/BotCommands.h"
#include "app/cli/CapacityCommands.h"
#include "app/cli/ExitCode.h"
#include "app/cli/SpoolCommands.h"
#include "app/cli/TextTable.h"
#include "app/cli/TopCommand.h"
#include "app/cli/WarmPoolCommands.h"
#include "app/cli/WarmPoolOptions.h"
#include "app/serve/ServeCommand.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/CallTable.h"
#include "db/history/UsageQueries.h"
#include "db/integrity/CounterRepair.h"
#include "db/integrity/InvariantChecker.h"
#include "db/storage/Database.h"
#include "db/storage/RetentionPurge.h"
#include "db/tenants/ApiTokens.h"
#include "db/tenants/ClientRegistry.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

namespace calltrack::app {

namespace {

std::string yesNo(bool b) {
    return b ? "yes" : "no";
}
std::string optTime(const std::optional<int64_t>& ms) {
    return ms ? db::isoTime(*ms) : "-";
}
std::string percent(int64_t active, int64_t limit) {
    if (limit <= 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%",
                  100.0 * static_cast<double>(active) / static_cast<double>(limit));
    return buf;
}

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

// An open database plus the engine pieces, for one CLI command.
struct Session {
    explicit Session(const Common& common)
        : database(common.databaseOptions()),
          clients(database.writer(), database.readers(), clock),
          admission(database.writer(), clock),
          lifecycle(database.writer(), clock) {}
    db::SystemClock clock;
    db::Database database;
    db::ClientRegistry clients;
    db::AdmissionEngine admission;
    db::CallLifecycle lifecycle;
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

void printCalls(const std::vector<db::Call>& calls) {
    TextTable t({"id", "client", "external_id", "state", "slot", "bot", "admitted_at", "expires_at",
                 "ended_at", "end_reason"});
    for (const auto& c : calls) {
        t.add({std::to_string(c.id), c.clientId, c.externalId, std::string(db::nameOf(c.state)),
               c.holdsSlot ? "yes" : (c.wouldRefuse ? "no (" + *c.wouldRefuse + ")" : "no"),
               c.botId.value_or("-"), db::isoTime(c.createdAt), optTime(c.expiresAt),
               optTime(c.endedAt), c.endReason.value_or("")});
    }
    t.print(std::cout);
}

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

    // serve
    ServeOptions serve;
    int reaperIntervalMs = 1000;
    int requestDeadlineMs = 2000;
    std::string listen = "127.0.0.1:8080";
    std::string logLevel = "info";
    int writerNice = -10;
    auto* serveCmd = app.add_subcommand("serve", "serve the HTTP API and run the background jobs");
    serveCmd
        ->add_option("--listen", listen,
                     "HOST:PORT to listen on; without CALLTRACK_ADMIN_TOKEN only a loopback "
                     "address is allowed")
        ->envname("CALLTRACK_LISTEN")
        ->capture_default_str();
    serveCmd
        ->add_option("--threads", serve.http.threads,
                     "HTTP worker threads kept ready (one serves one connection; more start on "
                     "demand up to --max-connections)")
        ->envname("CALLTRACK_THREADS")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--max-connections", serve.http.connections.maxConnections,
                     "connections served at once; the next is answered 503 overloaded with "
                     "Retry-After")
        ->envname("CALLTRACK_MAX_CONNECTIONS")
        ->check(CLI::Range(8, 8192))
        ->capture_default_str();
    int64_t spoolMaxMb = static_cast<int64_t>(serve.spool.maxBytes / (1024 * 1024));
    int64_t spoolMaxAgeS = serve.spool.maxAgeMs / 1000;
    int requestTimeoutMs = static_cast<int>(serve.http.connections.requestTimeout.count());
    serveCmd
        ->add_option("--request-timeout-ms", requestTimeoutMs,
                     "a request's headers and body must arrive within this (a new connection's "
                     "first request: from its accept), else 408 and the connection is closed")
        ->envname("CALLTRACK_REQUEST_TIMEOUT_MS")
        ->check(CLI::Range(100, 300000))
        ->capture_default_str();
    int keepAliveMs = static_cast<int>(serve.http.connections.keepAliveIdle.count());
    serveCmd
        ->add_option("--keep-alive-ms", keepAliveMs,
                     "an idle keep-alive connection is closed after this (at once while 3/4 of "
                     "--max-connections are in use)")
        ->envname("CALLTRACK_KEEP_ALIVE_MS")
        ->check(CLI::Range(0, 300000))
        ->capture_default_str();
    serveCmd
        ->add_option("--max-body-bytes", serve.http.maxBodyBytes, "larger request bodies get 413")
        ->envname("CALLTRACK_MAX_BODY_BYTES")
        ->check(CLI::Range(1024, 16 * 1024 * 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--request-deadline-ms", requestDeadlineMs,
                     "a write that cannot start within this gets 503 with Retry-After")
        ->envname("CALLTRACK_REQUEST_DEADLINE_MS")
        ->check(CLI::Range(10, 60000))
        ->capture_default_str();
    serveCmd
        ->add_option(
            "--public-url", serve.publicUrl,
            "scheme://host[:port][/prefix] under which providers reach this server (behind a "
            "proxy); webhook signatures are checked against it")
        ->envname("CALLTRACK_PUBLIC_URL");
    serveCmd
        ->add_option("--writer-nice", writerNice,
                     "added to serve's own nice value for the one thread that writes the "
                     "database, as nice -n does (-39..39, result kept within -20..19; 0 "
                     "inherits; lowering needs CAP_SYS_NICE or RLIMIT_NICE, else serve warns "
                     "and runs without): under CPU contention its share is the admissions/s")
        ->envname("CALLTRACK_WRITER_NICE")
        ->check(CLI::Range(-39, 39))
        ->capture_default_str();
    serveCmd
        ->add_option("--log-level", logLevel, "debug, info, warn or error (JSON lines on stderr)")
        ->envname("CALLTRACK_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    serveCmd
        ->add_option("--spool-dir", serve.spool.directory,
                     "the intake spool's directory, for events the database cannot take in time "
                     "(default: the database path + \"-spool\"; local disk, like the database)")
        ->envname("CALLTRACK_SPOOL_DIR");
    serveCmd
        ->add_option("--spool-max-mb", spoolMaxMb,
                     "the intake spool holds at most this much (all processes' files); then events "
                     "the database cannot take are answered 503")
        ->envname("CALLTRACK_SPOOL_MAX_MB")
        ->check(CLI::Range(1, 1024 * 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--spool-max-age-s", spoolMaxAgeS,
                     "once the oldest record waiting in the spool is older than this, new events "
                     "the database cannot take are answered 503")
        ->envname("CALLTRACK_SPOOL_MAX_AGE_S")
        ->check(CLI::Range(1, 30 * 24 * 3600))
        ->capture_default_str();
    serveCmd
        ->add_option("--reaper-interval-ms", reaperIntervalMs, "how often expired calls are ended")
        ->check(CLI::Range(10, 60000))
        ->capture_default_str();
    serveCmd
        ->add_option("--warmup-concurrency", serve.warmup.concurrency,
                     "bot warm-up requests in flight at most (the bot scheduler's workers)")
        ->envname("CALLTRACK_WARMUP_CONCURRENCY")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    int64_t historyIntervalS = serve.history.sampleIntervalMs / 1000;
    int64_t historyDays = serve.history.keptMs / (86400 * 1000);
    int64_t historyMinuteDays = serve.history.minuteRowsKeptMs / (86400 * 1000);
    serveCmd
        ->add_option("--history-interval-s", historyIntervalS,
                     "utilization samples (live calls per client) are taken this often")
        ->envname("CALLTRACK_HISTORY_INTERVAL_S")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    serveCmd
        ->add_option("--history-minute-days", historyMinuteDays,
                     "per-minute history is kept this many days, then rolled up into hours")
        ->envname("CALLTRACK_HISTORY_MINUTE_DAYS")
        ->check(CLI::Range(1, 400))
        ->capture_default_str();
    serveCmd->add_option("--history-days", historyDays, "hourly history is kept this many days")
        ->envname("CALLTRACK_HISTORY_DAYS")
        ->check(CLI::Range(1, 3650))
        ->capture_default_str();
    serveCmd
        ->add_option("--metrics-max-clients", serve.metricsMaxClients,
                     "GET /metrics labels at most this many clients (by id); the rest are "
                     "summed under client=\"_other\"")
        ->envname("CALLTRACK_METRICS_MAX_CLIENTS")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    int64_t alertExpiryH = serve.alerts.notificationTtlMs / 3600000;
    serveCmd
        ->add_option("--alert-expiry-h", alertExpiryH,
                     "an alert notification no receiver acknowledged is retried this long, "
                     "then given up")
        ->envname("CALLTRACK_ALERT_EXPIRY_H")
        ->check(CLI::Range(1, 24 * 30))
        ->capture_default_str();
    serveCmd->footer(
        "Environment: CALLTRACK_ADMIN_TOKEN (bearer token with full access; never logged), and the "
        "variables named above.");
    serveCmd->callback([&] {
        action = [&] {
            const auto colon = listen.rfind(':');
            int port = -1;
            if (colon != std::string::npos) {
                try {
                    port = std::stoi(listen.substr(colon + 1));
                } catch (...) {
                }
            }
            if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
            }
            serve.http.host = listen.substr(0, colon);
            if (serve.http.host.size() > 2 && serve.http.host.front() == '[') {
                serve.http.host = serve.http.host.substr(1, serve.http.host.size() - 2);
            }
            serve.http.port = port;
            if (const char* token = std::getenv("CALLTRACK_ADMIN_TOKEN"); token && *token) {
                serve.http.adminToken = token;
            }
            serve.requestDeadline = std::chrono::milliseconds(requestDeadlineMs);
            serve.http.connections.requestTimeout = std::chrono::milliseconds(requestTimeoutMs);
            serve.spool.maxBytes = static_cast<uint64_t>(spoolMaxMb) * 1024 * 1024;
            serve.spool.maxAgeMs = spoolMaxAgeS * 1000;
            serve.http.connections.keepAliveIdle = std::chrono::milliseconds(keepAliveMs);
            while (!serve.publicUrl.empty() && serve.publicUrl.back() == '/')
                serve.publicUrl.pop_back();
            if (!serve.publicUrl.empty() && serve.publicUrl.rfind("http://", 0) != 0 &&
                serve.publicUrl.rfind("https://", 0) != 0) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--public-url must start with http:// or https://");
            }
            serve.database = common.databaseOptions();
            serve.database.readers = 4;
            serve.database.readWait = serve.requestDeadline;
            serve.database.writerNiceAdjustment = writerNice;
            serve.reaperInterval = std::chrono::milliseconds(reaperIntervalMs);
            serve.history.sampleIntervalMs = historyIntervalS * 1000;
            serve.alerts.notificationTtlMs = alertExpiryH * 3600000;
            serve.history.minuteRowsKeptMs = historyMinuteDays * 86400 * 1000;
            serve.history.keptMs = historyDays * 86400 * 1000;
            if (serve.history.keptMs < serve.history.minuteRowsKeptMs) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--history-days must be at least --history-minute-days");
            }
            api::LogLevel level = api::LogLevel::info;
            api::JsonLog::parseLevel(logLevel, level);
            // Blocked before the log's thread starts: see ShutdownSignals.
            const ShutdownSignals signals;
            // A full stderr pipe must not block requests: 16 384 lines queued,
            // then dropped and counted.
            api::JsonLog serveLog(level, stderr, 16384);
            return runServe(serve, serveLog, signals);
        };
    });

    // migrate
    app.add_subcommand(
           "migrate",
           "create the database or upgrade its schema in place (safe while calltrack runs)")
        ->callback([&] {
            action = [&] {
                const auto r = db::Database::migrate(common.databaseOptions());
                if (r.created)
                    std::cout << "created " << common.db << " at schema version " << r.toVersion
                              << "\n";
                else if (r.fromVersion == r.toVersion)
                    std::cout << common.db << " is already at schema version " << r.toVersion
                              << "\n";
                else
                    std::cout << "upgraded " << common.db << " from schema version "
                              << r.fromVersion << " to " << r.toVersion << "\n";
                return kOk;
            };
        });

    // client add|set|show|list
    auto* clientCmd = app.add_subcommand("client", "manage clients");
    clientCmd->require_subcommand(1);
    ClientArgs addArgs, setArgs;
    auto* clientAdd = clientCmd->add_subcommand("add", "create a client");
    addArgs.attach(clientAdd, true);
    clientAdd->callback([&] {
        action = [&] {
            Session s(common);
            printClient(s.clients.create(addArgs.id, addArgs.patch()));
            return kOk;
        };
    });
    auto* clientSet =
        clientCmd->add_subcommand("set", "change a client (limits apply to new admissions only)");
    setArgs.attach(clientSet, false);
    clientSet->callback([&] {
        action = [&] {
            Session s(common);
            printClient(s.clients.update(setArgs.id, setArgs.patch()));
            return kOk;
        };
    });
    std::string showId;
    bool showJson = false, listJson = false;
    auto* clientShow = clientCmd->add_subcommand("show", "show one client");
    clientShow->add_option("id", showId)->required();
    clientShow->add_flag("--json", showJson, "one JSON document (the API's client object)");
    clientShow->callback([&] {
        action = [&] {
            Session s(common);
            auto k = s.clients.find(showId);
            if (!k) throw db::EngineError(db::ErrorCode::not_found, "no client " + showId);
            if (showJson)
                std::cout << api::ResourceJson::client(*k).dump(2) << "\n";
            else
                printClient(*k);
            return kOk;
        };
    });
    auto* clientList = clientCmd->add_subcommand("list", "list clients");
    clientList->add_flag("--json", listJson, "one JSON document: {\"clients\": [...]}");
    clientList->callback([&] {
        action = [&] {
            Session s(common);
            if (listJson) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& k : s.clients.list()) list.push_back(api::ResourceJson::client(k));
                std::cout << nlohmann::json{{"clients", list}}.dump(2) << "\n";
                return kOk;
            }
            TextTable t({"id", "name", "mode", "enabled", "active", "limit", "percent"});
            for (const auto& k : s.clients.list()) {
                t.add({k.id, k.name, db::nameOf(k.mode), yesNo(k.enabled), std::to_string(k.active),
                       std::to_string(k.maxConcurrent), percent(k.active, k.maxConcurrent)});
            }
            t.print(std::cout);
            return kOk;
        };
    });

    // client schedule|schedules|unschedule|warm-pool, bot put|show|list|delete
    const CliContext context{[&] { return common.databaseOptions(); }, action};
    addWarmPoolCommands(*clientCmd, context);
    addBotCommands(app, context);
    addSpoolCommands(app, context);
    addBackupCommand(app, context);
    addCapacityCommands(app, context);  // history, capacity, capacity plan
    addTopCommand(app, context);
    addAlertCommands(app, context);

    // limit global [N]
    auto* limitCmd = app.add_subcommand("limit", "show or set limits");
    limitCmd->require_subcommand(1);
    std::optional<int64_t> globalLimit;
    std::optional<int64_t> retentionHours;
    auto* retentionCmd = app.add_subcommand(
        "retention",
        "show or set how long ended calls and their events are kept (serve purges them)");
    retentionCmd
        ->add_option("--hours", retentionHours, "keep this many hours (1 to 876000; 720 = 30 days)")
        ->check(CLI::Range(int64_t{1}, int64_t{876000}));
    retentionCmd->callback([&] {
        action = [&] {
            Session s(common);
            db::RetentionPurge retention(s.database.writer(), s.clock);
            const int64_t hours = retentionHours ? retention.setRetentionHours(*retentionHours)
                                                 : retention.retentionHours();
            std::cout << "retention " << hours << " hours (" << hours / 24 << " days)\n";
            return kOk;
        };
    });

    auto* limitGlobal = limitCmd->add_subcommand(
        "global", "show or set the global limit (applies to new admissions)");
    limitGlobal->add_option("N", globalLimit, "new global limit (>= 0)");
    limitGlobal->callback([&] {
        action = [&] {
            Session s(common);
            const auto g =
                globalLimit ? s.clients.setGlobalLimit(*globalLimit) : s.clients.global();
            std::cout << "global limit " << g.limit << ", active " << g.active << "\n";
            return kOk;
        };
    });

    // admit
    db::AdmitRequest admitReq;
    admitReq.source = "cli";
    std::optional<std::string> admitExternal, admitMetadata;
    auto* admitCmd = app.add_subcommand("admit", "admit one call (exit 4 when refused)");
    admitCmd->add_option("client", admitReq.clientId)->required();
    admitCmd->add_option("--external-id", admitExternal,
                         "the provider's call id (generated if absent)");
    admitCmd->add_option("--provider", admitReq.provider)->capture_default_str();
    admitCmd->add_option("--metadata", admitMetadata, "JSON stored with the call");
    admitCmd->callback([&] {
        action = [&] {
            Session s(common);
            admitReq.externalId = admitExternal;
            admitReq.metadataJson = admitMetadata;
            const auto r = s.admission.admit(admitReq);
            if (r.outcome == db::AdmitResult::Outcome::refused) {
                std::cerr << "refused: " << db::nameOf(r.refusal) << " (client " << r.client.active
                          << "/" << r.client.limit << ", global " << r.global.active << "/"
                          << r.global.limit << ")";
                if (r.refusal == db::Refusal::bot_unavailable)
                    std::cerr << ": no warm bot with free capacity (`calltrack serve` warms them)";
                if (r.retryAfterMs) std::cerr << ", retry after " << *r.retryAfterMs << " ms";
                std::cerr << "\n";
                // No such client is "not found" (5) like everywhere else, not a refusal.
                return r.refusal == db::Refusal::unknown_client ? kNotFound : kRefused;
            }
            if (r.outcome == db::AdmitResult::Outcome::already_ended) {
                std::cerr << "refused: call_already_ended: call " << r.call->id << " external_id "
                          << r.call->externalId << " already ended as " << db::nameOf(r.call->state)
                          << "; do not dial it\n";
                return kRefused;
            }
            std::cout << (r.outcome == db::AdmitResult::Outcome::existing ? "existing" : "admitted")
                      << " call " << r.call->id << " external_id " << r.call->externalId
                      << " state " << db::nameOf(r.call->state) << " (client " << r.client.active
                      << "/" << r.client.limit << ", global " << r.global.active << "/"
                      << r.global.limit << ")";
            if (r.call->botId) std::cout << " bot " << *r.call->botId;
            if (r.call->wouldRefuse)
                std::cout << " [observe: enforce would refuse: " << *r.call->wouldRefuse << "]";
            std::cout << "\n";
            return kOk;
        };
    });

    // end
    db::EndRequest endReq;
    endReq.source = "cli";
    std::optional<int64_t> endId;
    std::optional<std::string> endClient, endExternal, endReason;
    auto* endCmd = app.add_subcommand(
        "end", "end a live call and release its slot (by id, or --client and --external-id)");
    endCmd->add_option("id", endId, "calltrack call id");
    endCmd->add_option("--client", endClient);
    endCmd->add_option("--external-id", endExternal);
    endCmd->add_option("--reason", endReason, "stored as the call's end_reason");
    endCmd->callback([&] {
        action = [&] {
            if (endId)
                endReq.call = db::CallRef::byId(*endId);
            else if (endClient && endExternal)
                endReq.call = db::CallRef::byExternal(*endClient, *endExternal);
            else
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "name the call: an id, or --client and --external-id");
            endReq.reason = endReason.value_or("ended by hand (cli)");
            Session s(common);
            const auto r = s.lifecycle.end(endReq);
            std::cout << "call " << r.call->id << " " << db::nameOf(r.outcome) << ": "
                      << db::nameOf(r.call->state);
            if (!r.detail.empty()) std::cout << " (" << r.detail << ")";
            std::cout << "\n";
            return kOk;
        };
    });

    // calls
    db::CallTable::ListFilter filter;
    std::optional<std::string> callsClient;
    bool callsAll = false, callsEnded = false;
    auto* callsCmd =
        app.add_subcommand("calls", "list calls, newest first (live ones unless --all/--ended)");
    callsCmd->add_option("--client", callsClient);
    callsCmd->add_flag("--all", callsAll, "live and ended calls");
    callsCmd->add_flag("--ended", callsEnded, "ended calls only");
    callsCmd->add_option("--limit", filter.limit, "at most this many")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    bool callsJson = false;
    callsCmd->add_flag("--json", callsJson, "one JSON document: {\"calls\": [...]}");
    callsCmd->callback([&] {
        action = [&] {
            filter.clientId = callsClient;
            if (callsAll) filter.which = db::CallTable::ListFilter::Which::all;
            if (callsEnded) filter.which = db::CallTable::ListFilter::Which::ended;
            Session s(common);
            const auto calls = s.database.readers().read(
                [&](db::Connection& c) { return db::CallTable::list(c, filter); });
            if (callsJson) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& call : calls) list.push_back(api::ResourceJson::call(call));
                std::cout << nlohmann::json{{"calls", list}}.dump(2) << "\n";
            } else {
                printCalls(calls);
            }
            return kOk;
        };
    });

    // token create|revoke|list
    auto* tokenCmd =
        app.add_subcommand("token", "API bearer tokens (only their hashes are stored)");
    tokenCmd->require_subcommand(1);
    bool tokenAdmin = false;
    std::optional<std::string> tokenClient, tokenLabel;
    auto* tokenCreate = tokenCmd->add_subcommand("create", "create a token and print it once");
    auto* adminFlag = tokenCreate->add_flag("--admin", tokenAdmin, "full access");
    auto* clientOpt =
        tokenCreate->add_option("--client", tokenClient, "only this client's calls and usage");
    adminFlag->excludes(clientOpt);
    tokenCreate->add_option("--label", tokenLabel, "a note for `token list`");
    tokenCreate->callback([&] {
        action = [&] {
            if (!tokenAdmin && !tokenClient) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "say --admin or --client ID");
            }
            Session s(common);
            const auto created =
                db::ApiTokens::create(s.database.writer(), s.clock, tokenClient, tokenLabel);
            std::cerr << "token " << created.token.id << " for "
                      << (created.token.clientId ? "client " + *created.token.clientId
                                                 : std::string("admin"))
                      << "; it is shown only now:\n";
            std::cout << created.secret << "\n";
            return kOk;
        };
    });
    std::string revokeId;
    auto* tokenRevoke = tokenCmd->add_subcommand("revoke", "revoke a token by its id (tok_...)");
    tokenRevoke->add_option("id", revokeId)->required();
    tokenRevoke->callback([&] {
        action = [&] {
            Session s(common);
            if (!db::ApiTokens::revoke(s.database.writer(), s.clock, revokeId)) {
                throw db::EngineError(db::ErrorCode::not_found, "no active token " + revokeId);
            }
            std::cout << "revoked " << revokeId << "\n";
            return kOk;
        };
    });
    tokenCmd->add_subcommand("list", "list tokens (never their secrets)")->callback([&] {
        action = [&] {
            Session s(common);
            TextTable t({"id", "scope", "label", "created_at", "revoked_at"});
            for (const auto& tok : s.database.readers().read(
                     [](db::Connection& c) { return db::ApiTokens::list(c); })) {
                t.add({tok.id, tok.clientId ? "client " + *tok.clientId : "admin",
                       tok.label.value_or(""), db::isoTime(tok.createdAt), optTime(tok.revokedAt)});
            }
            t.print(std::cout);
            return kOk;
        };
    });

    // status
    bool statusJson = false;
    auto* statusCmd = app.add_subcommand("status", "utilization: global and per client");
    statusCmd->add_flag("--json", statusJson,
                        "one JSON document (the shape of GET /v1/usage's global and clients)");
    statusCmd->callback([&] {
        action = [&] {
            Session s(common);
            if (statusJson) {
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
                   percent(g.active, g.limit), "", ""});
            for (const auto& k : clients) {
                t.add({k.id, db::nameOf(k.mode), yesNo(k.enabled), std::to_string(k.active),
                       std::to_string(k.maxConcurrent), percent(k.active, k.maxConcurrent),
                       std::to_string(k.refusedTotal), std::to_string(k.flaggedTotal)});
            }
            t.print(std::cout);
            return kOk;
        };
    });

    // check
    int64_t graceMs = 5000;
    auto* checkCmd = app.add_subcommand(
        "check", "integrity_check plus calltrack's invariants; exit 1 on any violation");
    checkCmd
        ->add_option("--expiry-grace-ms", graceMs,
                     "how far past its expiry a live call is reported")
        ->capture_default_str();
    bool repair = false;
    checkCmd->add_flag("--repair", repair,
                       "first recompute every counter from the live calls (one transaction) and "
                       "print what changed");
    checkCmd->callback([&] {
        action = [&] {
            Session s(common);
            if (repair) {
                const auto changes = db::CounterRepair::run(s.database.writer(), s.clock);
                for (const auto& change : changes) std::cout << "repaired " << change << "\n";
                std::cout << "repair: " << changes.size() << " counters changed\n";
            }
            const auto report = s.database.readers().read([&](db::Connection& c) {
                return db::InvariantChecker::run(c, s.clock.nowMs(), graceMs);
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
