#pragma once
// `calltrack serve`: opens (creating if needed) the database, adopts
// orphaned spool segments, ends expired calls once, then serves the HTTP API
// and runs the background jobs (app/jobs/: spool replay, process heartbeat,
// WAL checkpoints, reaper, purges, utilization history, alerts; app/warmup/:
// the bot warm-up scheduler) until SIGINT or SIGTERM, and shuts down in
// order: stop accepting and finish in-flight requests, stop the jobs, drain
// the writer, exit 0.

#include "api/http/HttpServer.h"
#include "api/logging/JsonLog.h"
#include "app/jobs/AlertJob.h"
#include "app/serve/ShutdownSignals.h"
#include "app/warmup/WarmupScheduler.h"
#include "db/history/UsageRecorder.h"
#include "db/spool/IntakeSpool.h"
#include "db/storage/Database.h"

#include <chrono>

namespace calltrack::app {

struct ServeOptions {
    db::DatabaseOptions database;
    api::HttpOptions http;
    std::chrono::milliseconds requestDeadline{2000};
    std::string publicUrl;  // see api::ApiContext::publicUrl
    std::chrono::milliseconds reaperInterval{1000};
    // Expired idempotency keys and pending events, and retention.
    std::chrono::milliseconds purgeInterval{60000};
    int reaperBatch = 500;
    int64_t leaseTtlMs = 5000;
    std::chrono::milliseconds shutdownGrace{10000};  // for in-flight requests at SIGTERM
    WarmupSchedulerOptions warmup{};                 // --warmup-concurrency
    // The intake spool; its directory defaults to "<db>-spool".
    db::SpoolOptions spool{};
    std::chrono::milliseconds spoolReplayInterval{200};
    std::chrono::milliseconds checkpointInterval{5000};
    db::HistoryOptions history{};  // --history-*
    size_t metricsMaxClients = 500;
    AlertJobOptions alerts{};
};

// Serves until one of `signals` arrives (constructed before `log`, so that
// no thread of the process can take them); returns the exit status.
int runServe(const ServeOptions& options, api::JsonLog& log, const ShutdownSignals& signals);

}  // namespace calltrack::app
