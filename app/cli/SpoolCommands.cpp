#include "app/cli/SpoolCommands.h"

#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/IsoTime.h"
#include "db/spool/EventIntake.h"
#include "db/spool/IntakeSpool.h"
#include "db/spool/SpoolLedger.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace calltrack::app {

namespace {

struct SpoolArgs {
    std::string directory;
    bool json = false;
};

std::string directoryOf(const SpoolArgs& args, const db::DatabaseOptions& options) {
    return args.directory.empty() ? db::SpoolOptions::directoryFor(options.path) : args.directory;
}

int show(const CliContext& context, const SpoolArgs& args) {
    const auto options = context.databaseOptions();
    const std::string directory = directoryOf(args, options);
    const auto segments = db::IntakeSpool::inspect(directory);
    db::Database database(options);
    db::SystemClock clock;
    const int64_t now = clock.nowMs();
    nlohmann::json out = {{"directory", directory}, {"segments", nlohmann::json::array()}};
    uint64_t pending = 0, applied = 0, torn = 0, corrupt = 0, bytes = 0;
    std::optional<int64_t> oldest;
    TextTable table({"file", "held_by", "bytes", "records", "pending", "oldest_pending", "damage"});
    for (const auto& s : segments) {
        uint64_t segPending = 0;
        std::optional<int64_t> segOldest;
        nlohmann::json records = nlohmann::json::array();
        database.readers().read([&](db::Connection& c) {
            for (const auto& r : s.records) {
                const auto outcome = db::SpoolLedger::outcomeOf(c, r.key);
                if (!outcome) {
                    ++segPending;
                    segOldest = std::min(segOldest.value_or(INT64_MAX), r.receivedAtMs);
                }
                records.push_back({{"key", r.key},
                                   {"kind", r.kind()},
                                   {"call", r.callLabel()},
                                   {"received_at", db::isoTime(r.receivedAtMs)},
                                   {"applied", outcome.has_value()},
                                   {"outcome", outcome ? nlohmann::json(*outcome) : nullptr}});
            }
            return 0;
        });
        pending += segPending;
        applied += s.records.size() - segPending;
        torn += s.tornTailBytes > 0;
        corrupt += s.corruptRegions;
        bytes += s.bytes;
        if (segOldest) oldest = std::min(oldest.value_or(INT64_MAX), *segOldest);
        std::string damage;
        if (s.corruptRegions) damage += std::to_string(s.corruptRegions) + " damaged ";
        if (s.tornTailBytes) damage += "torn tail (" + std::to_string(s.tornTailBytes) + " B)";
        table.add({s.file, s.heldByLiveProcess ? "live process" : "nobody (replayable)",
                   std::to_string(s.bytes), std::to_string(s.records.size()),
                   std::to_string(segPending), segOldest ? db::isoTime(*segOldest) : "-",
                   damage.empty() ? "-" : damage});
        out["segments"].push_back({{"file", s.file},
                                   {"held_by_live_process", s.heldByLiveProcess},
                                   {"bytes", s.bytes},
                                   {"records", records},
                                   {"pending", segPending},
                                   {"corrupt_regions", s.corruptRegions},
                                   {"torn_tail_bytes", s.tornTailBytes}});
    }
    out["pending_records"] = pending;
    out["applied_records"] = applied;
    out["bytes"] = bytes;
    out["oldest_pending_at"] = oldest ? nlohmann::json(db::isoTime(*oldest)) : nullptr;
    out["oldest_pending_age_ms"] = oldest ? nlohmann::json(now - *oldest) : nullptr;
    out["torn_tails"] = torn;
    out["corrupt_regions"] = corrupt;
    if (args.json) {
        std::cout << out.dump(2) << "\n";
        return kOk;
    }
    std::cout << "spool " << directory << ": " << pending << " pending, " << applied
              << " applied (awaiting removal), " << bytes << " bytes";
    if (oldest) std::cout << ", oldest pending " << (now - *oldest) / 1000 << " s old";
    std::cout << "\n";
    if (!segments.empty()) table.print(std::cout);
    return kOk;
}

int replay(const CliContext& context, const SpoolArgs& args) {
    const auto options = context.databaseOptions();
    db::Database database(options);
    db::SystemClock clock;
    db::SpoolOptions spoolOptions;
    spoolOptions.directory = directoryOf(args, options);
    db::IntakeSpool spool(spoolOptions, clock);
    const int adopted = spool.scan();
    db::EventIntake intake(database.writer(), clock, spool);
    const auto r = intake.drain([] { return true; }, std::chrono::seconds(10));
    const auto stats = spool.stats();
    std::cout << "adopted " << adopted << " segment(s); applied " << r.applied
              << ", already applied " << r.alreadyApplied << ", refused by the engine " << r.failed
              << ", unreadable " << r.corrupt << "; still pending " << stats.pendingRecords;
    if (stats.otherProcessBytes > 0)
        std::cout << " (plus " << stats.otherProcessBytes
                  << " bytes held by running calltrack processes, which replay their own)";
    std::cout << "\n";
    if (r.blocked) {
        std::cerr << "calltrack: the database did not take the writes: " << r.error << "\n";
        return kBusy;
    }
    return kOk;
}

}  // namespace

void addSpoolCommands(CLI::App& app, const CliContext& context) {
    auto args = std::make_shared<SpoolArgs>();
    auto* cmd = app.add_subcommand(
        "spool", "the intake spool: events the database could not take in time, applied later");
    cmd->require_subcommand(1);
    auto* showCmd = cmd->add_subcommand(
        "show", "what waits in the spool (records, age, damage), without changing anything");
    showCmd->add_option("--spool-dir", args->directory, "default: the database path + \"-spool\"");
    showCmd->add_flag("--json", args->json, "one JSON document");
    showCmd->callback(
        [&context, args] { context.action = [&context, args] { return show(context, *args); }; });
    auto* replayCmd = cmd->add_subcommand(
        "replay",
        "apply what waits in segments no running calltrack holds (a crashed or stopped serve's); "
        "running servers replay their own");
    replayCmd->add_option("--spool-dir", args->directory,
                          "default: the database path + \"-spool\"");
    replayCmd->callback(
        [&context, args] { context.action = [&context, args] { return replay(context, *args); }; });
}

}  // namespace calltrack::app
