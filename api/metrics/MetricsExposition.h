#pragma once
// GET /metrics: the Prometheus text exposition (format 0.0.4), serialized by
// prometheus-cpp from
//  * the database, read in one snapshot (db::LiveState, db::UsageTotals):
//    live calls, limits, admissions, refusals, ends, durations, events,
//    bots, leases, sizes; the same from every process, no process label;
//  * this process (process="<holder>"): HTTP, writer, breaker, spool,
//    webhook rejections, connections, warm-ups (ProcessMetrics).
// Client ids become labels only for clients that exist, at most
// MetricsSources::maxClientLabels of them ("_other" sums the rest; events
// naming no client are "_unknown").

#include "api/http/ApiContext.h"

#include <string>

namespace calltrack::api {

class MetricsExposition {
  public:
    static std::string render(ApiContext& ctx);
};

}  // namespace calltrack::api
