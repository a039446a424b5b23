#pragma once
// What the HTTP handlers use: the engine (through its public classes only;
// the HTTP layer holds no SQL), the clock, the log and the request limits.

#include "api/connection/ConnectionLimits.h"
#include "api/logging/JsonLog.h"
#include "api/metrics/MetricsSources.h"
#include "api/webhooks/WebhookRejections.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/ProviderCallEvents.h"
#include "db/spool/EventIntake.h"
#include "db/spool/OfflineAdmissions.h"
#include "db/storage/Database.h"
#include "db/storage/WalCheckpointer.h"
#include "db/tenants/ClientRegistry.h"

#include <atomic>
#include <chrono>
#include <string>

namespace calltrack::api {

struct ApiContext {
    db::Database& database;
    db::AdmissionEngine& admission;
    db::CallLifecycle& lifecycle;
    db::ClientRegistry& clients;
    db::BotRegistry& bots;
    db::DemandSchedules& schedules;
    db::ProviderCallEvents& providerEvents;
    // Webhooks and call events go through here: applied, or spooled when
    // the database cannot take them in time.
    db::EventIntake& intake;
    const db::Clock& clock;
    JsonLog& log;
    std::chrono::milliseconds requestDeadline{2000};
    // Scheme, host and optional path prefix under which providers reach this
    // server (behind a proxy), e.g. "https://calls.example.com". Webhook
    // signatures cover the URL as the provider saw it. Empty: taken from the
    // request's Host header, as http.
    std::string publicUrl{};

    // Per-process counts of what the database never saw (GET /v1/usage).
    struct Counters {
        // inbound calls answered <Reject> because the database did not
        // answer within the request deadline
        std::atomic<int64_t> gateDatabaseRejects{0};
        // admissions refused 503 database_unavailable (nothing written)
        std::atomic<int64_t> admissionsRefusedUnavailable{0};
        // events answered 503 because they could be neither applied nor spooled
        std::atomic<int64_t> eventsRefusedSpoolFull{0};
        // events answered 202 spooled
        std::atomic<int64_t> eventsSpooled{0};
    };
    Counters counters{};
    // The WAL as serve's checkpoint job last saw it (none in tests that do
    // not run one).
    const db::WalCheckpointer* wal = nullptr;
    // This process's offline admissions (admit_within_share); none: every
    // admission the database cannot take is refused.
    db::OfflineAdmissions* offline = nullptr;
    // GET /metrics: this process's registry, leases and bound on client labels.
    MetricsSources metrics{};
    WebhookRejections webhookRejections{};
    ConnectionCounters connectionCounters{};

    db::Deadline deadline() const { return std::chrono::steady_clock::now() + requestDeadline; }
};

}  // namespace calltrack::api
