#include "api/metrics/MetricsExposition.h"

#include "db/EngineError.h"
#include "db/history/EventTally.h"
#include "db/history/LiveState.h"
#include "db/history/UsageTotals.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace calltrack::api {

namespace {
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<std::pair<std::string, std::string>>;

const char* const kEndStates[] = {"completed", "busy",     "failed",
                                  "no_answer", "canceled", "timed_out"};
const char* const kRefusalReasons[] = {"client_limit_reached", "global_limit_reached",
                                       "client_disabled", "bot_unavailable"};
const std::set<std::string> kSources = {"api", "cli", "twilio", "generic", "reaper"};

// A family whose series are summed by label set as they are added, so that
// clients folded into "_other" add up instead of repeating a label set.
class FamilyBuilder {
  public:
    FamilyBuilder(std::string name, std::string help, MetricType type)
        : name_(std::move(name)), help_(std::move(help)), type_(type) {}
    void add(const Labels& labels, double value) { values_[labels] += value; }
    void set(const Labels& labels, double value) { values_[labels] = value; }
    MetricFamily build() const {
        MetricFamily f{name_, help_, type_, {}};
        for (const auto& [labels, value] : values_) {
            ClientMetric m;
            for (const auto& [k, v] : labels) m.label.push_back({k, v});
            if (type_ == MetricType::Counter)
                m.counter.value = value;
            else
                m.gauge.value = value;
            f.metric.push_back(std::move(m));
        }
        return f;
    }

  private:
    std::string name_, help_;
    MetricType type_;
    std::map<Labels, double> values_;
};

MetricFamily single(std::string name, std::string help, MetricType type, double value,
                    const Labels& labels = {}) {
    FamilyBuilder b(std::move(name), std::move(help), type);
    b.set(labels, value);
    return b.build();
}

// Client ids -> label values: the `max` oldest clients (by creation, then
// id) keep their own, so a new client never takes an existing one's series;
// the rest are "_other" (which changes when a labelled client is deleted);
// "?" (no client) is "_unknown".
class ClientLabels {
  public:
    ClientLabels(std::vector<db::LiveState::ClientRow> clients, size_t max) {
        std::sort(clients.begin(), clients.end(), [](const auto& a, const auto& b) {
            return std::tie(a.createdAt, a.id) < std::tie(b.createdAt, b.id);
        });
        for (const auto& c : clients) {
            if (kept_.size() >= max) break;
            kept_.insert(c.id);
        }
    }
    std::string operator()(const std::string& id) const {
        if (id == db::kUnknownClient) return "_unknown";
        return kept_.count(id) ? id : "_other";
    }
    const std::set<std::string>& kept() const { return kept_; }

  private:
    std::set<std::string> kept_;
};
struct Snapshot {
    db::LiveState state;
    db::UsageTotals::Values totals;
};

void databaseFamilies(ApiContext& ctx, const Snapshot& snap, std::vector<MetricFamily>& out) {
    const auto& state = snap.state;
    const ClientLabels clientLabel(state.clients, ctx.metrics.maxClientLabels);

    // ---- database state (the same from every process)
    {
        FamilyBuilder active("calltrack_calls_active",
                             "Live calls holding a slot of the client's limit", MetricType::Gauge);
        FamilyBuilder unslotted(
            "calltrack_calls_unslotted",
            "Live calls holding no slot (observe mode: admitted over the limit)",
            MetricType::Gauge);
        FamilyBuilder limit("calltrack_client_limit", "The client's max_concurrent",
                            MetricType::Gauge);
        FamilyBuilder enabled("calltrack_client_enabled", "1 if the client may admit calls",
                              MetricType::Gauge);
        std::map<std::string, std::pair<double, double>> ratio;  // label -> (active, limit)
        for (const auto& k : state.clients) {
            const Labels l = {{"client", clientLabel(k.id)}};
            active.add(l, static_cast<double>(k.active));
            unslotted.add(l, static_cast<double>(k.unslotted));
            limit.add(l, static_cast<double>(k.limit));
            if (l[0].second != "_other") enabled.set(l, k.enabled ? 1 : 0);
            ratio[l[0].second].first += static_cast<double>(k.active);
            ratio[l[0].second].second += static_cast<double>(k.limit);
        }
        FamilyBuilder utilization("calltrack_client_utilization_ratio",
                                  "calltrack_calls_active / calltrack_client_limit (0-1; absent "
                                  "for a limit of 0)",
                                  MetricType::Gauge);
        for (const auto& [label, v] : ratio)
            if (v.second > 0) utilization.set({{"client", label}}, v.first / v.second);
        out.push_back(active.build());
        out.push_back(unslotted.build());
        out.push_back(limit.build());
        out.push_back(enabled.build());
        out.push_back(utilization.build());
    }
    out.push_back(single("calltrack_global_calls_active", "Live slot-holding calls of all clients",
                         MetricType::Gauge, static_cast<double>(state.globalActive)));
    out.push_back(single("calltrack_global_limit", "The system-wide limit (settings.global_limit)",
                         MetricType::Gauge, static_cast<double>(state.globalLimit)));
    if (state.globalLimit > 0) {
        out.push_back(single("calltrack_global_utilization_ratio",
                             "calltrack_global_calls_active / calltrack_global_limit (0-1)",
                             MetricType::Gauge,
                             static_cast<double>(state.globalActive) / state.globalLimit));
    }

    {
        FamilyBuilder admissions("calltrack_admissions_total",
                                 "Admission requests by outcome (admitted, duplicate: a retry "
                                 "answered with its call, refused)",
                                 MetricType::Counter);
        FamilyBuilder refusals("calltrack_refusals_total", "Refused admissions by reason",
                               MetricType::Counter);
        FamilyBuilder ended("calltrack_calls_ended_total", "Calls ended, by final state",
                            MetricType::Counter);
        FamilyBuilder timeouts("calltrack_timeouts_total",
                               "Calls the reaper ended as timed_out (no end event came in time)",
                               MetricType::Counter);
        FamilyBuilder events("calltrack_events_total",
                             "Call events received (status callbacks, ends, timeouts) by source "
                             "and outcome",
                             MetricType::Counter);
        // Every kept client has its main series from the start (rate() and
        // alerts need a zero before the first refusal).
        for (const auto& id : clientLabel.kept()) {
            for (const char* o : {"admitted", "duplicate", "refused"})
                admissions.add({{"client", id}, {"outcome", o}}, 0);
            for (const char* r : kRefusalReasons) refusals.add({{"client", id}, {"reason", r}}, 0);
            for (const char* s : kEndStates) ended.add({{"client", id}, {"outcome", s}}, 0);
            timeouts.add({{"client", id}}, 0);
        }
        std::map<std::string, std::map<std::string, double>> durations;  // label -> le -> n
        std::map<std::string, double> holdingMs;
        for (const auto& [key, value] : snap.totals) {
            const std::string client = clientLabel(key.first);
            const std::string& counter = key.second;
            const double v = static_cast<double>(value);
            if (counter == "admitted" || counter == "duplicate") {
                admissions.add({{"client", client}, {"outcome", counter}}, v);
            } else if (counter.rfind("refused:", 0) == 0) {
                admissions.add({{"client", client}, {"outcome", "refused"}}, v);
                refusals.add({{"client", client}, {"reason", counter.substr(8)}}, v);
            } else if (counter.rfind("ended:", 0) == 0) {
                ended.add({{"client", client}, {"outcome", counter.substr(6)}}, v);
                if (counter == "ended:timed_out") timeouts.add({{"client", client}}, v);
            } else if (counter.rfind("duration_le:", 0) == 0) {
                durations[client][counter.substr(12)] += v;
            } else if (counter == "holding_ms") {
                holdingMs[client] += v;
            } else if (counter.rfind("event:", 0) == 0) {
                const auto colon = counter.find(':', 6);
                if (colon == std::string::npos) continue;
                std::string source = counter.substr(6, colon - 6);
                if (!kSources.count(source)) source = "other";
                events.add({{"client", client},
                            {"source", source},
                            {"outcome", counter.substr(colon + 1)}},
                           v);
            }
        }
        out.push_back(admissions.build());
        out.push_back(refusals.build());
        out.push_back(ended.build());
        out.push_back(timeouts.build());
        out.push_back(events.build());

        MetricFamily hist{"calltrack_call_duration_seconds",
                          "Admission-to-end time of ended calls",
                          MetricType::Histogram,
                          {}};
        std::set<std::string> withDurations = clientLabel.kept();
        for (const auto& [label, _] : durations) withDurations.insert(label);
        for (const auto& label : withDurations) {
            ClientMetric m;
            m.label.push_back({"client", label});
            const auto& byBound = durations[label];
            uint64_t cumulative = 0;
            for (const int64_t bound : db::kDurationBoundsS) {
                if (const auto it = byBound.find(std::to_string(bound)); it != byBound.end())
                    cumulative += static_cast<uint64_t>(it->second);
                m.histogram.bucket.push_back({cumulative, static_cast<double>(bound)});
            }
            if (const auto it = byBound.find("inf"); it != byBound.end())
                cumulative += static_cast<uint64_t>(it->second);
            m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
            m.histogram.sample_count = cumulative;
            m.histogram.sample_sum = holdingMs[label] / 1000.0;
            hist.metric.push_back(std::move(m));
        }
        out.push_back(std::move(hist));
    }
    {
        FamilyBuilder bots("calltrack_bots", "Bots by state", MetricType::Gauge);
        for (const auto& [s, n] : state.botsByState)
            bots.set({{"state", s}}, static_cast<double>(n));
        out.push_back(bots.build());
    }
    out.push_back(single("calltrack_database_size_bytes",
                         "Size of the database file (pages in use)", MetricType::Gauge,
                         static_cast<double>(state.databaseBytes)));
    out.push_back(single("calltrack_processes_live",
                         "calltrack serve processes on this database with a fresh heartbeat",
                         MetricType::Gauge, static_cast<double>(state.liveProcesses)));
    out.push_back(single("calltrack_history_backlog_events",
                         "call_events not yet folded into the utilization history",
                         MetricType::Gauge, static_cast<double>(state.historyBacklogEvents)));
    out.push_back(single("calltrack_history_last_sample_timestamp_seconds",
                         "When the utilization history last took a sample (0: never)",
                         MetricType::Gauge, static_cast<double>(state.lastSampleAt) / 1000.0));
    if (ctx.wal) {
        const auto wal = ctx.wal->status();
        out.push_back(single("calltrack_database_wal_size_bytes", "Size of the -wal file",
                             MetricType::Gauge, static_cast<double>(wal.walBytes)));
        out.push_back(single("calltrack_database_wal_frames_behind",
                             "WAL frames not yet checkpointed into the database file",
                             MetricType::Gauge,
                             static_cast<double>(wal.logFrames - wal.checkpointedFrames)));
    }
}
}  // namespace

std::string MetricsExposition::render(ApiContext& ctx) {
    const int64_t now = ctx.clock.nowMs();
    // The database part may fail (no read connection within the deadline,
    // an I/O error): this process's series are then still exported, which
    // is when the breaker and spool series matter most.
    std::optional<Snapshot> snap;
    try {
        snap = ctx.database.readers().read([&](db::Connection& c) {
            return Snapshot{db::LiveState::readIn(c, now), db::UsageTotals::current(c)};
        });
    } catch (const db::EngineError&) {
    }
    std::vector<MetricFamily> out;
    if (snap) databaseFamilies(ctx, *snap, out);

    // ---- this process
    const std::string process =
        ctx.metrics.process ? ctx.metrics.process->process() : std::string("unnamed");
    const Labels p = {{"process", process}};
    out.push_back(single("calltrack_metrics_database_read_ok",
                         "1 if this scrape read the database; 0: its series are missing from it "
                         "(no read connection in time, or an I/O error)",
                         MetricType::Gauge, snap ? 1 : 0, p));
    if (ctx.metrics.leasesHeld) {
        FamilyBuilder held("calltrack_lease_held",
                           "1 while this process holds the lease (reaper, bot-scheduler, history)",
                           MetricType::Gauge);
        for (const auto& [name, isHeld] : ctx.metrics.leasesHeld())
            held.set({{"lease", name}, {"process", process}}, isHeld ? 1 : 0);
        out.push_back(held.build());
    }
    const auto writer = ctx.database.writer().stats();
    out.push_back(single("calltrack_writer_commits_total", "Group-commit transactions committed",
                         MetricType::Counter, static_cast<double>(writer.commits), p));
    out.push_back(single("calltrack_writer_ops_total", "Write operations committed",
                         MetricType::Counter, static_cast<double>(writer.ops), p));
    out.push_back(single("calltrack_writer_busy_batches_total",
                         "Writer batches that failed because the database stayed locked",
                         MetricType::Counter, static_cast<double>(writer.busyBatches), p));
    out.push_back(single("calltrack_database_lock_waits_total",
                         "Times the writer found another connection holding the write lock",
                         MetricType::Counter, static_cast<double>(writer.lockWaits), p));
    {
        const auto b = ctx.database.writer().breaker().snapshot();
        FamilyBuilder state("calltrack_database_breaker_state",
                            "1 for the breaker's current state (closed, open, half_open)",
                            MetricType::Gauge);
        for (const auto s : {db::DatabaseBreaker::State::closed, db::DatabaseBreaker::State::open,
                             db::DatabaseBreaker::State::half_open})
            state.set({{"process", process}, {"state", db::nameOf(s)}}, b.state == s ? 1 : 0);
        out.push_back(state.build());
        out.push_back(single("calltrack_database_breaker_opened_total", "Times the breaker opened",
                             MetricType::Counter, static_cast<double>(b.opened), p));
    }
    const auto& counters = ctx.counters;
    out.push_back(single(
        "calltrack_admissions_refused_unavailable_total",
        "Admissions answered 503 database_unavailable (never reached the database)",
        MetricType::Counter, static_cast<double>(counters.admissionsRefusedUnavailable.load()), p));
    out.push_back(single("calltrack_inbound_gate_database_rejects_total",
                         "Inbound calls rejected because the database did not answer in time",
                         MetricType::Counter,
                         static_cast<double>(counters.gateDatabaseRejects.load()), p));
    out.push_back(single("calltrack_events_spooled_total",
                         "Events answered 202 spooled (the database could not take them in time)",
                         MetricType::Counter, static_cast<double>(counters.eventsSpooled.load()),
                         p));
    out.push_back(single("calltrack_events_refused_spool_full_total",
                         "Events answered 503: neither applied nor spooled", MetricType::Counter,
                         static_cast<double>(counters.eventsRefusedSpoolFull.load()), p));
    if (ctx.offline) {
        out.push_back(single("calltrack_offline_admissions_total",
                             "Admissions granted while the database was unavailable "
                             "(admit_within_share)",
                             MetricType::Counter, static_cast<double>(ctx.offline->stats().granted),
                             p));
    }
    {
        const auto s = ctx.intake.spool().stats();
        out.push_back(single("calltrack_spool_pending_records",
                             "Spooled records this process holds, not yet applied",
                             MetricType::Gauge, static_cast<double>(s.pendingRecords), p));
        out.push_back(single("calltrack_spool_pending_bytes", "Bytes of those records",
                             MetricType::Gauge, static_cast<double>(s.pendingBytes), p));
        out.push_back(single("calltrack_spool_host_bytes",
                             "Bytes of every spool segment on this host at the last scan",
                             MetricType::Gauge, static_cast<double>(s.hostBytes), p));
        out.push_back(single(
            "calltrack_spool_oldest_pending_age_seconds",
            "Age of the oldest record this process holds (0: none)", MetricType::Gauge,
            s.oldestPendingAtMs ? static_cast<double>(now - *s.oldestPendingAtMs) / 1000.0 : 0.0,
            p));
        out.push_back(single("calltrack_spool_writable", "0 while the last spool append failed",
                             MetricType::Gauge, s.writable ? 1 : 0, p));
        out.push_back(single("calltrack_spool_appended_total", "Records appended to the spool",
                             MetricType::Counter, static_cast<double>(s.appended), p));
        out.push_back(single("calltrack_spool_replayed_total", "Spooled records applied or settled",
                             MetricType::Counter, static_cast<double>(s.consumed), p));
        out.push_back(single("calltrack_spool_write_failures_total", "Spool appends that failed",
                             MetricType::Counter, static_cast<double>(s.writeFailures), p));
        out.push_back(single("calltrack_spool_corrupt_regions_total",
                             "Damaged stretches of spool files skipped while reading",
                             MetricType::Counter,
                             static_cast<double>(s.corruptRegions + s.tornTails), p));
    }
    {
        FamilyBuilder rejections("calltrack_webhook_rejections_total",
                                 "Webhooks refused before authentication, by source and reason",
                                 MetricType::Counter);
        const auto snapshot = ctx.webhookRejections.snapshot();
        for (const auto& [source, reasons] : snapshot.items())
            for (const auto& [reason, n] : reasons.items())
                rejections.add({{"process", process}, {"reason", reason}, {"source", source}},
                               n.get<double>());
        out.push_back(rejections.build());
    }
    out.push_back(single("calltrack_http_connections_open", "HTTP connections being served now",
                         MetricType::Gauge, static_cast<double>(ctx.connectionCounters.open.load()),
                         p));
    out.push_back(single("calltrack_http_connections_overloaded_total",
                         "Connections beyond --max-connections answered 503 or closed",
                         MetricType::Counter,
                         static_cast<double>(ctx.connectionCounters.overloaded.load()), p));
    out.push_back(single(
        "calltrack_http_connections_overloaded_unanswered_total",
        "Of the connections beyond --max-connections, those closed without a 503: the server "
        "already held 256 waiting for theirs (a connection flood)",
        MetricType::Counter,
        static_cast<double>(ctx.connectionCounters.overloadedUnanswered.load()), p));
    out.push_back(single("calltrack_http_request_timeouts_total",
                         "Requests answered 408 (head or body too slow)", MetricType::Counter,
                         static_cast<double>(ctx.connectionCounters.requestTimeouts.load()), p));
    // A log pipeline that loses lines loses the evidence of everything
    // else: the one place an operator can see (and alert on) it.
    out.push_back(single("calltrack_log_lines_dropped_total",
                         "Log lines dropped because stderr did not keep up", MetricType::Counter,
                         static_cast<double>(ctx.log.dropped()), p));
    if (ctx.metrics.warmupsInFlight) {
        out.push_back(single("calltrack_bot_warmups_in_flight", "Warm-up requests in flight now",
                             MetricType::Gauge, static_cast<double>(ctx.metrics.warmupsInFlight()),
                             p));
    }
    if (ctx.metrics.process) {
        auto collected = ctx.metrics.process->registry().Collect();
        for (auto& f : collected) out.push_back(std::move(f));
    }
    return prometheus::TextSerializer().Serialize(out);
}

}  // namespace calltrack::api
