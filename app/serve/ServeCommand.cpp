#include "app/serve/ServeCommand.h"

#include "api/metrics/ProcessMetrics.h"
#include "app/MemoryAllocator.h"
#include "app/jobs/AlertJob.h"
#include "app/jobs/HistoryJob.h"
#include "app/jobs/ProcessHeartbeatJob.h"
#include "app/jobs/PurgeJob.h"
#include "app/jobs/ReaperJob.h"
#include "app/jobs/SpoolReplayJob.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmupClaims.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/IdempotencyStore.h"
#include "db/coordination/LeaderLease.h"
#include "db/coordination/ProcessRegistry.h"
#include "db/storage/RetentionPurge.h"
#include "db/storage/WalCheckpointer.h"
#include "db/tenants/ClientRegistry.h"

#include <sys/resource.h>
#include <unistd.h>
#include <csignal>
#include <cstring>
#include <future>
#include <thread>

namespace calltrack::app {

int runServe(const ServeOptions& options, api::JsonLog& log, const ShutdownSignals& signals) {
    // One descriptor per connection, plus the rejecter's, the database's
    // and the log's: Debian's soft limit of 1024 is too low for a large
    // --max-connections, and the hard limit is there to be used.
    if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
        const rlim_t wanted = options.http.connections.maxConnections + 512;
        if (files.rlim_cur < wanted) {
            files.rlim_cur = std::min(wanted, files.rlim_max);
            ::setrlimit(RLIMIT_NOFILE, &files);
        }
        if (files.rlim_cur < wanted) {
            log.warn("the open-file limit is below what --max-connections needs",
                     {{"limit", files.rlim_cur}, {"wanted", wanted}});
        }
    }

    db::SystemClock clock;
    auto dbOptions = options.database;
    dbOptions.createIfMissing = true;
    const std::string holder = db::LeaderLease::processHolderId();
    api::ProcessMetrics metrics(holder);
    dbOptions.onBatch = [&metrics](size_t ops, double seconds, bool committed) {
        metrics.observeBatch(ops, seconds, committed);
    };
    db::Database database(dbOptions);
    const auto nice = database.writer().threadNice();
    const bool notStarted = nice.error == db::GroupCommitWriter::kThreadNotStarted;
    // --writer-nice 0 asks for nothing, so there is nothing to warn about.
    if (notStarted && dbOptions.writerNiceAdjustment != 0) {
        log.warn(
            "the writer thread had not started within 10 s; whether its nice value "
            "changed is not known",
            {{"writer_nice", dbOptions.writerNiceAdjustment},
             {"hint", "the host is overloaded: serve's threads wait for a CPU"}});
    } else if (!notStarted && nice.error != 0) {
        log.warn("the writer thread's nice value was not changed; serving without it",
                 {{"writer_nice", dbOptions.writerNiceAdjustment},
                  {"inherited_nice", nice.inherited},
                  {"wanted_nice", nice.wanted},
                  {"error", std::strerror(nice.error)},
                  {"hint",
                   "fewer admissions/s when the CPU is short; grant CAP_SYS_NICE (systemd "
                   "AmbientCapabilities=CAP_SYS_NICE) or raise LimitNICE= (to 20 minus the "
                   "wanted nice), or pass --writer-nice 0 to silence this"}});
    }
    db::CallLifecycle lifecycle(database.writer(), clock);
    db::AdmissionEngine admission(database.writer(), clock);
    db::ClientRegistry clients(database.writer(), database.readers(), clock);
    db::BotRegistry bots(database.writer(), database.readers(), clock);
    db::DemandSchedules schedules(database.writer(), database.readers(), clock);
    db::ProviderCallEvents providerEvents(database.writer(), clock);
    db::LeaderLease lease(database.writer(), clock, "reaper", holder, options.leaseTtlMs);
    auto spoolOptions = options.spool;
    if (spoolOptions.directory.empty())
        spoolOptions.directory = db::SpoolOptions::directoryFor(dbOptions.path);
    std::unique_ptr<db::IntakeSpool> spool;
    try {
        spool = std::make_unique<db::IntakeSpool>(spoolOptions, clock);
    } catch (const db::EngineError& e) {
        log.error(e.what());
        return 2;
    }
    db::OfflineAdmissions offline;
    db::EventIntake intake(database.writer(), clock, *spool, &offline);
    database.writer().breaker().onChange([&log](db::DatabaseBreaker::State from,
                                                db::DatabaseBreaker::State to,
                                                const std::string& why) {
        nlohmann::json fields = {{"from", db::nameOf(from)}, {"to", db::nameOf(to)}, {"why", why}};
        if (to == db::DatabaseBreaker::State::open) {
            log.warn(
                "database breaker open: writes are answered at once (events spooled, "
                "admissions refused) until a probe succeeds",
                std::move(fields));
        } else {
            log.info("database breaker " + std::string(db::nameOf(to)), std::move(fields));
        }
    });
    // Orphaned spool segments (a process that crashed) first: their events
    // may end calls the start-up reap would otherwise time out.
    if (const int adopted = spool->scan(); adopted > 0) {
        log.warn(
            "adopted intake spool segments of a calltrack process that is gone; replaying "
            "them before the reaper runs",
            {{"segments", adopted}, {"pending_records", spool->stats().pendingRecords}});
    }
    ReaperOptions reaperOptions{options.reaperInterval, options.reaperBatch,
                                [&spool] { return spool->pendingOnHost(); }};
    ReaperJob reaper(lifecycle, lease, log, reaperOptions);
    SpoolReplayJob spoolReplay(intake, database.writer(), log, options.spoolReplayInterval);

    // The port first: a second serve on a port in use must exit with one
    // line before it takes a lease or runs a job.
    api::ApiContext api{database,
                        admission,
                        lifecycle,
                        clients,
                        bots,
                        schedules,
                        providerEvents,
                        intake,
                        clock,
                        log,
                        options.requestDeadline,
                        options.publicUrl};
    // The WAL: bounded after a stuck reader is gone, and a warning while one
    // pins it (every process checkpoints passively; that is cheap).
    db::WalCheckpointer wal(
        dbOptions.path, clock, db::WalCheckpointer::Options{}, [&log](const db::WalStatus& s) {
            log.warn(
                "WAL checkpoints have not completed for over a minute: "
                "a reader that never ends (a sqlite3 shell in BEGIN?) "
                "pins the log, which grows with every write",
                {{"wal_bytes", s.walBytes}, {"frames_behind", s.logFrames - s.checkpointedFrames}});
        });
    api.wal = &wal;
    api.offline = &offline;
    api.metrics.process = &metrics;
    api.metrics.maxClientLabels = options.metricsMaxClients;
    std::unique_ptr<api::HttpServer> http;
    try {
        auto httpOptions = options.http;
        httpOptions.connections.onThreadIdle = releaseThreadMemory;
        http = std::make_unique<api::HttpServer>(api, std::move(httpOptions));
    } catch (const std::runtime_error& e) {
        log.error(e.what());
        return 2;
    }
    // Start-up reaps once, lease or not; a database that is locked or
    // failing now must not keep the server from starting (the reaper job
    // tries again every interval).
    int reaped = 0;
    try {
        if (!spool->pendingOnHost()) reaped = reaper.reapAll();
    } catch (const db::EngineError& e) {
        log.warn("start-up reap failed; the reaper retries every interval", {{"error", e.what()}});
    }
    spoolReplay.start();
    db::ProcessRegistry processes(database.writer(), clock, lease.holder(), ::getpid());
    ProcessHeartbeatJob heartbeats(processes, offline, database.readers(), clock, log);
    heartbeats.start();
    PeriodicJob checkpoints(
        "checkpoint", options.checkpointInterval, [&wal] { wal.checkpoint(); }, log);
    reaper.start();
    db::IdempotencyStore idempotency(database.writer(), clock);
    db::RetentionPurge retention(database.writer(), clock);
    PurgeJob purge(idempotency, providerEvents, intake, retention, lease, log,
                   options.purgeInterval);
    purge.start();
    // Bot warm-ups: its own lease, so the reaper and the scheduler may run in
    // different processes; an admission that finds no free bot wakes it.
    db::WarmupClaims warmupClaims(database.writer(), clock);
    db::LeaderLease botLease(database.writer(), clock, "bot-scheduler", holder, options.leaseTtlMs);
    auto warmupOptions = options.warmup;
    warmupOptions.onOutcome = [&metrics](bool ok, double seconds) {
        metrics.observeWarmup(ok, seconds);
    };
    WarmupScheduler warmups(warmupClaims, botLease, clock, log, warmupOptions);
    admission.onBotShortage([&warmups](const std::string&) { warmups.wake(); });
    warmups.start();
    // Utilization history: its own lease, so it may run beside the reaper
    // or in another process.
    db::LeaderLease historyLease(database.writer(), clock, "history", holder, options.leaseTtlMs);
    db::UsageRecorder recorder(database.writer(), database.readers(), clock, options.history);
    HistoryJob history(recorder, historyLease, clock, log);
    history.start();
    // Alerts: their own lease; notifications through the outbox.
    const std::string baseUrl = !options.publicUrl.empty() ? options.publicUrl
                                                           : "http://" + options.http.host + ":" +
                                                                 std::to_string(http->port());
    db::LeaderLease alertLease(database.writer(), clock, "alerts", holder, options.leaseTtlMs);
    db::AlertEvaluator alertEvaluator(database.writer(), database.readers(), clock, baseUrl,
                                      options.alerts.notificationTtlMs);
    db::AlertOutbox alertOutbox(database.writer(), database.readers(), clock);
    auto alertOptions = options.alerts;
    alertOptions.delivery.baseUrl = baseUrl;
    AlertJob alerts(
        alertEvaluator, alertOutbox, alertLease, database.readers(), clock, log,
        [&] {
            // This process cannot write: its breaker is not closed (events
            // still replaying from the spool after the database came back
            // are not an outage).
            return database.writer().breaker().snapshot().state !=
                   db::DatabaseBreaker::State::closed;
        },
        alertOptions);
    alerts.start();
    api.metrics.leasesHeld = [&] {
        return std::vector<std::pair<std::string, bool>>{{"reaper", lease.held()},
                                                         {"bot-scheduler", botLease.held()},
                                                         {"history", historyLease.held()},
                                                         {"alerts", alertLease.held()}};
    };
    api.metrics.warmupsInFlight = [&warmups] { return warmups.stats().inFlight; };
    http->start();
    if (http->open()) {
        log.warn(
            "no API token (CALLTRACK_ADMIN_TOKEN or `calltrack token create`): the API is open to "
            "anyone "
            "who can reach " +
            options.http.host + " (allowed on loopback only)");
    }
    log.info("calltrack serving",
             {{"listen", options.http.host + ":" + std::to_string(http->port())},
              {"db", dbOptions.path},
              {"synchronous", dbOptions.durability == db::Durability::full ? "full" : "normal"},
              {"timed_out_at_start", reaped},
              {"spool", spoolOptions.directory},
              {"holder", lease.holder()},
              {"warmup_concurrency", options.warmup.concurrency}});

    const int signal = signals.wait();
    log.info("shutting down", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
    // Stop accepting and let in-flight requests finish, for at most the
    // grace period; after it the writer stops taking work, so a request
    // still waiting for it is answered 503 shutting_down instead of hanging
    // (a worker stuck on a slow client ends by the socket timeouts).
    std::promise<void> drained;
    auto drainedFuture = drained.get_future();
    std::thread stopper([&] {
        http->stop();
        drained.set_value();
    });
    if (drainedFuture.wait_for(options.shutdownGrace) == std::future_status::timeout) {
        log.warn("in-flight requests still running after the grace period; refusing new writes",
                 {{"grace_ms", options.shutdownGrace.count()}});
        database.writer().stop();
    }
    stopper.join();
    warmups.stop();
    history.stop();
    alerts.stop();
    purge.stop();
    reaper.stop();
    spoolReplay.stop();
    checkpoints.stop();
    heartbeats.stop();
    try {
        processes.leave(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    } catch (const db::EngineError&) {
        // its row expires after ProcessRegistry::kLiveMs
    }
    database.writer().stop();
    const auto stats = database.writer().stats();
    log.info("stopped", {{"commits", stats.commits}, {"writes", stats.ops}});
    return 0;
}

}  // namespace calltrack::app
