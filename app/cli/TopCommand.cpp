#include "app/cli/TopCommand.h"

#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/IsoTime.h"
#include "db/history/EventTally.h"
#include "db/history/LiveState.h"
#include "db/history/UsageTotals.h"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace calltrack::app {

namespace {
struct Frame {
    int64_t atMs = 0;
    db::LiveState state;
    db::UsageTotals::Values totals;
    std::optional<int64_t> oldestLive;
};

Frame read(db::Database& database, const db::Clock& clock) {
    const int64_t now = clock.nowMs();
    return database.readers().read([&](db::Connection& c) {
        return Frame{now, db::LiveState::readIn(c, now), db::UsageTotals::current(c),
                     db::LiveState::oldestLiveCallAt(c)};
    });
}

std::string bar(int64_t active, int64_t limit, int width = 30) {
    if (limit <= 0) return "[" + std::string(width, ' ') + "]";
    const int64_t filled =
        std::min<int64_t>(width, (active * width + limit - 1) / std::max<int64_t>(limit, 1));
    return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

// (admissions, refusals) of a client ("" = all) in these totals.
std::pair<int64_t, int64_t> counts(const db::UsageTotals::Values& totals, const std::string& id) {
    int64_t admitted = 0, refused = 0;
    for (const auto& [key, v] : totals) {
        if (!id.empty() && key.first != id) continue;
        if (key.second == "admitted") admitted += v;
        if (key.second.rfind("refused:", 0) == 0) refused += v;
    }
    return {admitted, refused};
}

std::string rate(int64_t now, int64_t before, int64_t ms) {
    if (ms <= 0) return "-";
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << static_cast<double>(now - before) * 1000.0 / ms;
    return s.str();
}

void render(std::ostream& out, const Frame& f, const Frame* prev) {
    const int64_t ms = prev ? f.atMs - prev->atMs : 0;
    const auto row = [&](const std::string& id) {
        const auto [a, r] = counts(f.totals, id);
        if (!prev) return std::make_pair(std::string("-"), std::string("-"));
        const auto [pa, pr] = counts(prev->totals, id);
        return std::make_pair(rate(a, pa, ms), rate(r, pr, ms));
    };
    out << "calltrack top  " << db::isoTime(f.atMs) << "  processes " << f.state.liveProcesses
        << "  oldest live call "
        << (f.oldestLive ? std::to_string((f.atMs - *f.oldestLive) / 1000) + " s" : "-") << "\n\n";
    TextTable t({"scope", "utilization", "active", "limit", "admit/s", "refuse/s"});
    const auto [ga, gr] = row("");
    t.add({"GLOBAL", bar(f.state.globalActive, f.state.globalLimit),
           std::to_string(f.state.globalActive), std::to_string(f.state.globalLimit), ga, gr});
    for (const auto& k : f.state.clients) {
        const auto [a, r] = row(k.id);
        t.add({k.id + (k.enabled ? "" : " (disabled)") + (k.observe ? " (observe)" : ""),
               bar(k.active + k.unslotted, k.limit), std::to_string(k.active + k.unslotted),
               std::to_string(k.limit), a, r});
    }
    t.print(out);
    out << "\nbots:";
    for (const auto& [state, n] : f.state.botsByState) out << " " << state << " " << n;
    out << "\nleases:";
    if (f.state.leases.empty()) out << " none";
    for (const auto& l : f.state.leases)
        out << " " << l.name << "=" << l.holder << (l.expiresAt < f.atMs ? " (expired)" : "");
    out << "\n";
}
}  // namespace

void addTopCommand(CLI::App& app, const CliContext& context) {
    struct Args {
        bool once = false;
        int64_t intervalMs = 1000;
        int64_t frames = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "top",
        "live view: utilization bars, admissions and refusals per second, oldest call, "
        "bots, leases (Ctrl-C ends it)");
    cmd->add_flag("--once", args->once, "print one frame (rates over one interval) and exit");
    cmd->add_option("--interval-ms", args->intervalMs, "refresh interval")
        ->check(CLI::Range(int64_t{100}, int64_t{60000}))
        ->capture_default_str();
    cmd->add_option("--frames", args->frames, "stop after this many frames (0: until Ctrl-C)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    cmd->callback([context, args] {
        context.action = [context, args] {
            db::SystemClock clock;
            db::Database database(context.databaseOptions());
            const auto interval = std::chrono::milliseconds(args->intervalMs);
            Frame prev = read(database, clock);
            if (args->once) {
                std::this_thread::sleep_for(interval);
                render(std::cout, read(database, clock), &prev);
                return kOk;
            }
            const bool tty = ::isatty(STDOUT_FILENO) == 1;
            for (int64_t n = 1; args->frames == 0 || n <= args->frames; ++n) {
                std::this_thread::sleep_for(interval);
                Frame f = read(database, clock);
                if (tty) std::cout << "\033[H\033[2J";
                render(std::cout, f, &prev);
                std::cout << std::flush;
                prev = std::move(f);
            }
            return kOk;
        };
    });
}

}  // namespace calltrack::app
