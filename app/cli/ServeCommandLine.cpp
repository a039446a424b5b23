#include "app/cli/ServeCommandLine.h"

#include "api/logging/JsonLog.h"
#include "app/cli/ExitCode.h"
#include "app/serve/ServeCommand.h"
#include "app/serve/ShutdownSignals.h"
#include "db/EngineError.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace calltrack::app {

namespace {

// Values the options are parsed into, in a shared_ptr held by the callbacks,
// so they outlive parsing and the command's run.
struct ServeArgs {
    ServeOptions serve;
    int reaperIntervalMs = 1000;
    int requestDeadlineMs = 2000;
    std::string listen = "127.0.0.1:8080";
    std::string logLevel = "info";
    int writerNice = -10;
    int64_t spoolMaxMb = static_cast<int64_t>(serve.spool.maxBytes / (1024 * 1024));
    int64_t spoolMaxAgeS = serve.spool.maxAgeMs / 1000;
    int requestTimeoutMs = static_cast<int>(serve.http.connections.requestTimeout.count());
    int keepAliveMs = static_cast<int>(serve.http.connections.keepAliveIdle.count());
    int64_t historyIntervalS = serve.history.sampleIntervalMs / 1000;
    int64_t historyDays = serve.history.keptMs / (86400 * 1000);
    int64_t historyMinuteDays = serve.history.minuteRowsKeptMs / (86400 * 1000);
    int64_t alertExpiryH = serve.alerts.notificationTtlMs / 3600000;
};

}  // namespace

void addServeCommand(CLI::App& app, const CliContext& context) {
    auto a = std::make_shared<ServeArgs>();
    auto* serveCmd = app.add_subcommand("serve", "serve the HTTP API and run the background jobs");
    serveCmd
        ->add_option("--listen", a->listen,
                     "HOST:PORT to listen on; without CALLTRACK_ADMIN_TOKEN only a loopback "
                     "address is allowed")
        ->envname("CALLTRACK_LISTEN")
        ->capture_default_str();
    serveCmd
        ->add_option("--threads", a->serve.http.threads,
                     "HTTP worker threads kept ready (one serves one connection; more start on "
                     "demand up to --max-connections)")
        ->envname("CALLTRACK_THREADS")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--max-connections", a->serve.http.connections.maxConnections,
                     "connections served at once; the next is answered 503 overloaded with "
                     "Retry-After")
        ->envname("CALLTRACK_MAX_CONNECTIONS")
        ->check(CLI::Range(8, 8192))
        ->capture_default_str();
    serveCmd
        ->add_option("--request-timeout-ms", a->requestTimeoutMs,
                     "a request's headers and body must arrive within this (a new connection's "
                     "first request: from its accept), else 408 and the connection is closed")
        ->envname("CALLTRACK_REQUEST_TIMEOUT_MS")
        ->check(CLI::Range(100, 300000))
        ->capture_default_str();
    serveCmd
        ->add_option("--keep-alive-ms", a->keepAliveMs,
                     "an idle keep-alive connection is closed after this (at once while 3/4 of "
                     "--max-connections are in use)")
        ->envname("CALLTRACK_KEEP_ALIVE_MS")
        ->check(CLI::Range(0, 300000))
        ->capture_default_str();
    serveCmd
        ->add_option("--max-body-bytes", a->serve.http.maxBodyBytes,
                     "larger request bodies get 413")
        ->envname("CALLTRACK_MAX_BODY_BYTES")
        ->check(CLI::Range(1024, 16 * 1024 * 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--request-deadline-ms", a->requestDeadlineMs,
                     "a write that cannot start within this gets 503 with Retry-After")
        ->envname("CALLTRACK_REQUEST_DEADLINE_MS")
        ->check(CLI::Range(10, 60000))
        ->capture_default_str();
    serveCmd
        ->add_option(
            "--public-url", a->serve.publicUrl,
            "scheme://host[:port][/prefix] under which providers reach this server (behind a "
            "proxy); webhook signatures are checked against it")
        ->envname("CALLTRACK_PUBLIC_URL");
    serveCmd
        ->add_option("--writer-nice", a->writerNice,
                     "added to serve's own nice value for the one thread that writes the "
                     "database, as nice -n does (-39..39, result kept within -20..19; 0 "
                     "inherits; lowering needs CAP_SYS_NICE or RLIMIT_NICE, else serve warns "
                     "and runs without): under CPU contention its share is the admissions/s")
        ->envname("CALLTRACK_WRITER_NICE")
        ->check(CLI::Range(-39, 39))
        ->capture_default_str();
    serveCmd
        ->add_option("--log-level", a->logLevel,
                     "debug, info, warn or error (JSON lines on stderr)")
        ->envname("CALLTRACK_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    serveCmd
        ->add_option("--spool-dir", a->serve.spool.directory,
                     "the intake spool's directory, for events the database cannot take in time "
                     "(default: the database path + \"-spool\"; local disk, like the database)")
        ->envname("CALLTRACK_SPOOL_DIR");
    serveCmd
        ->add_option("--spool-max-mb", a->spoolMaxMb,
                     "the intake spool holds at most this much (all processes' files); then events "
                     "the database cannot take are answered 503")
        ->envname("CALLTRACK_SPOOL_MAX_MB")
        ->check(CLI::Range(1, 1024 * 1024))
        ->capture_default_str();
    serveCmd
        ->add_option("--spool-max-age-s", a->spoolMaxAgeS,
                     "once the oldest record waiting in the spool is older than this, new events "
                     "the database cannot take are answered 503")
        ->envname("CALLTRACK_SPOOL_MAX_AGE_S")
        ->check(CLI::Range(1, 30 * 24 * 3600))
        ->capture_default_str();
    serveCmd
        ->add_option("--reaper-interval-ms", a->reaperIntervalMs,
                     "how often expired calls are ended")
        ->check(CLI::Range(10, 60000))
        ->capture_default_str();
    serveCmd
        ->add_option("--warmup-concurrency", a->serve.warmup.concurrency,
                     "bot warm-up requests in flight at most (the bot scheduler's workers)")
        ->envname("CALLTRACK_WARMUP_CONCURRENCY")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    serveCmd
        ->add_option("--history-interval-s", a->historyIntervalS,
                     "utilization samples (live calls per client) are taken this often")
        ->envname("CALLTRACK_HISTORY_INTERVAL_S")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    serveCmd
        ->add_option("--history-minute-days", a->historyMinuteDays,
                     "per-minute history is kept this many days, then rolled up into hours")
        ->envname("CALLTRACK_HISTORY_MINUTE_DAYS")
        ->check(CLI::Range(1, 400))
        ->capture_default_str();
    serveCmd->add_option("--history-days", a->historyDays, "hourly history is kept this many days")
        ->envname("CALLTRACK_HISTORY_DAYS")
        ->check(CLI::Range(1, 3650))
        ->capture_default_str();
    serveCmd
        ->add_option("--metrics-max-clients", a->serve.metricsMaxClients,
                     "GET /metrics labels at most this many clients (by id); the rest are "
                     "summed under client=\"_other\"")
        ->envname("CALLTRACK_METRICS_MAX_CLIENTS")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    serveCmd
        ->add_option("--alert-expiry-h", a->alertExpiryH,
                     "an alert notification no receiver acknowledged is retried this long, "
                     "then given up")
        ->envname("CALLTRACK_ALERT_EXPIRY_H")
        ->check(CLI::Range(1, 24 * 30))
        ->capture_default_str();
    serveCmd->footer(
        "Environment: CALLTRACK_ADMIN_TOKEN (bearer token with full access; never logged), and the "
        "variables named above.");
    serveCmd->callback([context, a] {
        context.action = [context, a] {
            const auto colon = a->listen.rfind(':');
            int port = -1;
            if (colon != std::string::npos) {
                try {
                    port = std::stoi(a->listen.substr(colon + 1));
                } catch (...) {
                }
            }
            if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
            }
            a->serve.http.host = a->listen.substr(0, colon);
            if (a->serve.http.host.size() > 2 && a->serve.http.host.front() == '[') {
                a->serve.http.host = a->serve.http.host.substr(1, a->serve.http.host.size() - 2);
            }
            a->serve.http.port = port;
            if (const char* token = std::getenv("CALLTRACK_ADMIN_TOKEN"); token && *token) {
                a->serve.http.adminToken = token;
            }
            a->serve.requestDeadline = std::chrono::milliseconds(a->requestDeadlineMs);
            a->serve.http.connections.requestTimeout =
                std::chrono::milliseconds(a->requestTimeoutMs);
            a->serve.spool.maxBytes = static_cast<uint64_t>(a->spoolMaxMb) * 1024 * 1024;
            a->serve.spool.maxAgeMs = a->spoolMaxAgeS * 1000;
            a->serve.http.connections.keepAliveIdle = std::chrono::milliseconds(a->keepAliveMs);
            while (!a->serve.publicUrl.empty() && a->serve.publicUrl.back() == '/')
                a->serve.publicUrl.pop_back();
            if (!a->serve.publicUrl.empty() && a->serve.publicUrl.rfind("http://", 0) != 0 &&
                a->serve.publicUrl.rfind("https://", 0) != 0) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--public-url must start with http:// or https://");
            }
            a->serve.database = context.databaseOptions();
            a->serve.database.readers = 4;
            a->serve.database.readWait = a->serve.requestDeadline;
            a->serve.database.writerNiceAdjustment = a->writerNice;
            a->serve.reaperInterval = std::chrono::milliseconds(a->reaperIntervalMs);
            a->serve.history.sampleIntervalMs = a->historyIntervalS * 1000;
            a->serve.alerts.notificationTtlMs = a->alertExpiryH * 3600000;
            a->serve.history.minuteRowsKeptMs = a->historyMinuteDays * 86400 * 1000;
            a->serve.history.keptMs = a->historyDays * 86400 * 1000;
            if (a->serve.history.keptMs < a->serve.history.minuteRowsKeptMs) {
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--history-days must be at least --history-minute-days");
            }
            api::LogLevel level = api::LogLevel::info;
            api::JsonLog::parseLevel(a->logLevel, level);
            // Blocked before the log's thread starts: see ShutdownSignals.
            const ShutdownSignals signals;
            // A full stderr pipe must not block requests: 16 384 lines queued,
            // then dropped and counted.
            api::JsonLog serveLog(level, stderr, 16384);
            return runServe(a->serve, serveLog, signals);
        };
    });
}

}  // namespace calltrack::app
