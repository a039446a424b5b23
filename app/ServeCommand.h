#pragma once
// `calltrack serve`: opens (creating if needed) the database, ends expired
// calls once, then runs the background jobs until SIGINT or SIGTERM, and
// shuts down in order: jobs stop, the writer drains its queue, exit 0.

#include "app/JsonLog.h"
#include "db/Database.h"

#include <chrono>

namespace calltrack::app {

struct ServeOptions {
    db::DatabaseOptions database;
    std::chrono::milliseconds reaperInterval{1000};
    int reaperBatch = 500;
    int64_t leaseTtlMs = 5000;
};

// Blocks SIGINT/SIGTERM in the calling thread (and so in every thread it
// starts) and waits for one of them; returns the exit status.
int runServe(const ServeOptions& options, JsonLog& log);

}  // namespace calltrack::app
