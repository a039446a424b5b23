#pragma once
// How calls, clients, usage, bots, schedules and warm pools look in API
// responses. Times are ISO-8601
// UTC text; absent values are null.

#include "api/json/JsonWriter.h"
#include "db/bots/Bot.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/calls/Call.h"
#include "db/history/UsageQueries.h"
#include "db/spool/IntakeSpool.h"
#include "db/storage/DatabaseBreaker.h"
#include "db/storage/WalCheckpointer.h"
#include "db/tenants/Client.h"

#include <nlohmann/json.hpp>

namespace calltrack::api {

class ResourceJson {
  public:
    // A call as a JSON object, written straight to text (the admission and
    // event responses need no DOM); call() is the same object as a DOM,
    // parsed back from that text so the call's shape has one definition. It
    // costs a parse, which only paths off the admission path pay (a
    // conflict's error body, a lookup inside a listing, the CLI).
    static void writeCall(JsonWriter& out, const db::Call& call);
    static nlohmann::json call(const db::Call& call);
    static nlohmann::json client(const db::Client& client);
    static nlohmann::json usage(const db::Usage& usage);
    static nlohmann::json usageReport(const db::UsageReport& report);
    static nlohmann::json bot(const db::Bot& bot);
    static nlohmann::json schedule(const db::DemandSchedule& schedule);
    static nlohmann::json warmPool(const db::WarmPoolStatus& status);
    // This process's view of the intake spool and of its database breaker.
    static nlohmann::json spool(const db::SpoolStats& stats, const db::SpoolOptions& options,
                                int64_t nowMs);
    static nlohmann::json breaker(const db::DatabaseBreaker::Snapshot& breaker);
    static nlohmann::json wal(const db::WalStatus& wal, int64_t nowMs);
};

}  // namespace calltrack::api
