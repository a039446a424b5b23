#include "app/ServeCommand.h"

#include "app/ReaperJob.h"
#include "db/CallLifecycle.h"
#include "db/LeaderLease.h"

#include <pthread.h>
#include <csignal>

namespace calltrack::app {

int runServe(const ServeOptions& options, JsonLog& log) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    // Before any thread starts, so that only sigwait below receives them.
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    db::SystemClock clock;
    auto dbOptions = options.database;
    dbOptions.createIfMissing = true;
    db::Database database(dbOptions);
    db::CallLifecycle lifecycle(database.writer(), clock);
    db::LeaderLease lease(database.writer(), clock, "reaper", db::LeaderLease::processHolderId(),
                          options.leaseTtlMs);
    ReaperJob reaper(lifecycle, lease, log,
                     ReaperOptions{options.reaperInterval, options.reaperBatch});

    const int reaped = reaper.reapAll();
    reaper.start();
    log.info("calltrack serving",
             {{"db", dbOptions.path},
              {"synchronous", dbOptions.durability == db::Durability::full ? "full" : "normal"},
              {"timed_out_at_start", reaped},
              {"holder", lease.holder()}});

    int signal = 0;
    sigwait(&signals, &signal);
    log.info("shutting down", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
    reaper.stop();
    database.writer().stop();
    const auto stats = database.writer().stats();
    log.info("stopped", {{"commits", stats.commits}, {"writes", stats.ops}});
    return 0;
}

}  // namespace calltrack::app
