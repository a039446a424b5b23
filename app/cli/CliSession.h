#pragma once
// An open database plus the engine pieces, for one CLI command. Opened when
// the command runs, after the whole command line parsed, so a usage error
// never opens (or locks) the database.

#include "app/cli/CliContext.h"
#include "db/Clock.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/storage/Database.h"
#include "db/tenants/ClientRegistry.h"

namespace calltrack::app {

struct CliSession {
    explicit CliSession(const CliContext& context)
        : database(context.databaseOptions()),
          clients(database.writer(), database.readers(), clock),
          admission(database.writer(), clock),
          lifecycle(database.writer(), clock) {}
    db::SystemClock clock;
    db::Database database;
    db::ClientRegistry clients;
    db::AdmissionEngine admission;
    db::CallLifecycle lifecycle;
};

}  // namespace calltrack::app
