#include "app/cli/CapacityCommands.h"

#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/history/CapacityReport.h"
#include "db/history/ErlangB.h"
#include "db/history/EventTally.h"
#include "db/history/UsageHistory.h"
#include "db/tenants/ClientRegistry.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

namespace calltrack::app {

namespace {
struct Args {
    std::optional<std::string> client;
    std::optional<std::string> from, to;
    int64_t step = 0;
    bool json = false;
    double blocking = 0.01;
    int64_t days = 28;
    std::optional<double> erlangs;
    std::optional<int64_t> lines;
};

std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

template <class T>
std::string orDash(const std::optional<T>& v, int digits = 1) {
    if (!v) return "-";
    if constexpr (std::is_floating_point_v<T>)
        return fixed(*v, digits);
    else
        return std::to_string(*v);
}

int64_t parseTime(const std::optional<std::string>& text, int64_t fallback, const char* name) {
    if (!text) return fallback;
    const auto t = db::parseIsoTime(*text);
    if (!t)
        throw db::EngineError(db::ErrorCode::invalid_argument,
                              std::string(name) +
                                  " must be an ISO-8601 UTC time, e.g. "
                                  "2026-12-01T10:00:00Z");
    return *t;
}

void checkBlocking(double p) {
    if (!std::isfinite(p) || p <= 0 || p >= 1)
        throw db::EngineError(db::ErrorCode::invalid_argument,
                              "--blocking must be between 0 and 1 (0.01 is 1 %)");
}

void requireClient(db::Database& database, const std::string& id) {
    if (id == db::kSystemRow) return;
    const bool known = database.readers().read(
        [&](db::Connection& c) { return db::ClientRegistry::findIn(c, id).has_value(); });
    if (!known) throw db::EngineError(db::ErrorCode::not_found, "no client " + id);
}

void addHistory(CLI::App& app, const CliContext& context) {
    auto args = std::make_shared<Args>();
    auto* cmd =
        app.add_subcommand("history",
                           "utilization history per minute (hour, older than 7 days): peaks, "
                           "admissions, refusals, timeouts");
    cmd->add_option("--client", args->client, "this client (default: the whole system)");
    cmd->add_option("--from", args->from, "ISO-8601 UTC (default: an hour before --to)");
    cmd->add_option("--to", args->to, "ISO-8601 UTC (default: now)");
    cmd->add_option("--step", args->step,
                    "seconds per row, a multiple of 60 (default: the finest "
                    "within 1000 rows)")
        ->check(CLI::Range(int64_t{60}, int64_t{400} * 86400));
    cmd->add_flag("--json", args->json, "one JSON document (GET /v1/usage/history's)");
    cmd->callback([context, args] {
        context.action = [context, args] {
            db::SystemClock clock;
            const int64_t to = parseTime(args->to, clock.nowMs(), "--to");
            const int64_t from = parseTime(args->from, to - 3600 * 1000, "--from");
            if (from >= to)
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--from must be before --to");
            const int64_t span = (to - from + 999) / 1000;
            int64_t step = args->step;
            if (step == 0) step = db::UsageHistory::defaultStep(span);
            if (!db::UsageHistory::validStep(step))
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--step must be a multiple of 60 seconds that divides an "
                                      "hour (60 ... 1800, 3600) or a multiple of 3600");
            if (span / step > db::UsageHistory::kMaxSamples)
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "too many rows: use a larger --step or a shorter range");
            db::Database database(context.databaseOptions());
            const std::string client = args->client.value_or(db::kSystemRow);
            requireClient(database, client);
            const auto samples = database.readers().read([&](db::Connection& c) {
                return db::UsageHistory::range(c, client, from, to, step);
            });
            if (args->json) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& s : samples) list.push_back(s.toJson());
                std::cout << nlohmann::json{{"client_id", client},
                                            {"from", db::isoTime(from)},
                                            {"to", db::isoTime(to)},
                                            {"step_s", step},
                                            {"samples", list}}
                                 .dump(2)
                          << "\n";
                return kOk;
            }
            TextTable t({"at", "step_s", "peak", "mean", "limit", "admitted", "refused", "timeouts",
                         "ended", "mean_hold_s"});
            for (const auto& s : samples) {
                t.add({db::isoTime(s.at), std::to_string(s.stepS), std::to_string(s.activeMax),
                       fixed(s.activeMean, 1), orDash(s.limit), std::to_string(s.counts.admissions),
                       std::to_string(s.counts.refused()), std::to_string(s.counts.timeouts),
                       std::to_string(s.counts.ended()), orDash(s.meanHoldingS())});
            }
            t.print(std::cout);
            if (samples.empty()) std::cerr << "no history in this range (nothing live, no calls)\n";
            return kOk;
        };
    });
}

void printPlan(const Args& a) {
    nlohmann::json j = {{"blocking", a.blocking}};
    if (a.erlangs) {
        const int64_t lines = db::ErlangB::linesFor(*a.erlangs, a.blocking);
        j["erlangs"] = *a.erlangs;
        j["lines"] = lines;
        j["blocking_at_lines"] = db::ErlangB::blocking(*a.erlangs, lines);
        if (!a.json) {
            std::cout << fixed(*a.erlangs, 3) << " Erlangs at " << fixed(a.blocking * 100, 3)
                      << " % blocking need " << lines << " lines (blocking there "
                      << fixed(db::ErlangB::blocking(*a.erlangs, lines) * 100, 4) << " %)\n";
        }
    }
    if (a.lines) {
        const double carried = db::ErlangB::trafficFor(*a.lines, a.blocking);
        j["lines"] = *a.lines;
        j["erlangs_carried"] = carried;
        if (!a.json) {
            std::cout << *a.lines << " lines carry " << fixed(carried, 3) << " Erlangs at "
                      << fixed(a.blocking * 100, 3) << " % blocking\n";
        }
    }
    if (a.json) std::cout << j.dump(2) << "\n";
}

void addCapacity(CLI::App& app, const CliContext& context) {
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "capacity",
        "capacity planning from the history: busy-hour Erlangs, peaks, blocking, the "
        "Erlang B limit and a verdict per client and for the system");
    cmd->add_option("--client", args->client, "only this client");
    cmd->add_option("--blocking", args->blocking, "target blocking (refused share), 0-1")
        ->capture_default_str();
    cmd->add_option("--days", args->days, "window of history")
        ->check(CLI::Range(1, 400))
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "one JSON document (GET /v1/capacity's)");

    auto plan = std::make_shared<Args>();
    auto* planCmd = cmd->add_subcommand(
        "plan",
        "what-if: the lines offered traffic needs (--erlangs), or the traffic lines "
        "carry (--lines), at a target blocking (Erlang B)");
    auto* erlangsOpt = planCmd->add_option("--erlangs", plan->erlangs,
                                           "offered traffic: calls per hour x mean holding hours");
    auto* linesOpt = planCmd->add_option("--lines", plan->lines, "lines (a concurrency limit)");
    planCmd->add_option("--blocking", plan->blocking, "target blocking, 0-1 (0.01 = 1 %)")
        ->capture_default_str();
    planCmd->add_flag("--json", plan->json, "one JSON document: {\"lines\": N, ...}");
    erlangsOpt->excludes(linesOpt);
    planCmd->callback([context, plan, erlangsOpt, linesOpt] {
        context.action = [plan, erlangsOpt, linesOpt] {
            checkBlocking(plan->blocking);
            if (!*erlangsOpt && !*linesOpt)
                throw db::EngineError(
                    db::ErrorCode::invalid_argument,
                    "say --erlangs A (lines needed) or --lines N (traffic carried)");
            if (plan->erlangs && (!std::isfinite(*plan->erlangs) || *plan->erlangs < 0 ||
                                  *plan->erlangs > db::ErlangB::kMaxErlangs))
                throw db::EngineError(db::ErrorCode::invalid_argument,
                                      "--erlangs must be from 0 to 1000000");
            if (plan->lines && (*plan->lines < 0 || *plan->lines > db::ErlangB::kMaxLines))
                throw db::EngineError(
                    db::ErrorCode::invalid_argument,
                    "--lines must be from 0 to " + std::to_string(db::ErlangB::kMaxLines));
            printPlan(*plan);
            return kOk;
        };
    });
    cmd->callback([context, args, planCmd] {
        if (planCmd->parsed()) return;
        context.action = [context, args] {
            checkBlocking(args->blocking);
            db::CapacityOptions options;
            options.targetBlocking = args->blocking;
            options.windowDays = args->days;
            db::SystemClock clock;
            db::Database database(context.databaseOptions());
            if (args->client) requireClient(database, *args->client);
            const int64_t now = clock.nowMs();
            std::vector<db::CapacityReport> reports;
            std::optional<db::CapacityReport> system;
            database.readers().read([&](db::Connection& c) {
                const auto samples = db::CapacityReport::systemSamples(c, now, options);
                if (args->client) {
                    reports.push_back(
                        db::CapacityReport::forClient(c, *args->client, now, options, &samples));
                } else {
                    for (const auto& k : db::ClientRegistry::listIn(c))
                        reports.push_back(
                            db::CapacityReport::forClient(c, k.id, now, options, &samples));
                }
                system = db::CapacityReport::forSystem(c, now, options, &samples);
            });
            if (args->json) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& r : reports) list.push_back(r.toJson(options.targetBlocking));
                std::cout << nlohmann::json{{"target_blocking", options.targetBlocking},
                                            {"window_days", options.windowDays},
                                            {"clients", list},
                                            {"global", system->toJson(options.targetBlocking)}}
                                 .dump(2)
                          << "\n";
                return kOk;
            }
            TextTable t({"scope", "limit", "busy_hour_E", "recommended", "verdict", "blocking",
                         "peak_p99", "trend", "days_to_limit", "bots_needed"});
            const auto row = [&](const db::CapacityReport& r, const std::string& scope) {
                t.add({scope, std::to_string(r.currentLimit), orDash(r.offeredErlangs, 2),
                       orDash(r.recommendedLimit), r.verdict,
                       r.measuredBlocking ? fixed(*r.measuredBlocking * 100, 2) + "%" : "-",
                       r.peaks.empty() ? "-" : std::to_string(r.peaks.back().p99), r.trend,
                       orDash(r.daysUntilLimit, 0),
                       r.botsRequired ? orDash(r.botsNeeded) : std::string("")});
            };
            row(*system, "GLOBAL");
            for (const auto& r : reports) row(r, r.clientId);
            t.print(std::cout);
            std::cout << "target blocking " << fixed(options.targetBlocking * 100, 3) << " %, last "
                      << options.windowDays << " days\n";
            return kOk;
        };
    });
}
}  // namespace

void addCapacityCommands(CLI::App& app, const CliContext& context) {
    addHistory(app, context);
    addCapacity(app, context);
}

}  // namespace calltrack::app
