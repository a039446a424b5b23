// The real `calltrack` binary: commands, output and exit statuses
// (app/cli/ExitCode.h) as an operator or a script sees them.

#include "app/cli/ExitCode.h"
#include "tests/CalltrackProcess.h"
#include "tests/TestSupport.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

extern char** environ;

using namespace calltrack;
using test::scalar;
using test::scalarText;
using test::spawnCalltrack;

namespace {

struct Run {
    int status = -1;  // exit status, or -1 if it did not exit normally
    std::string out;
    std::string err;
    std::string all() const { return out + err; }
    long lines() const {
        return static_cast<long>(std::count(out.begin(), out.end(), '\n') +
                                 std::count(err.begin(), err.end(), '\n'));
    }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A scratch directory and a database path in it; runs the binary there.
class Cli {
  public:
    Cli() : db_(dir_.file("calltrack.db")) {}
    const std::string& db() const { return db_; }
    std::string file(const std::string& name) const { return dir_.file(name); }

    // calltrack --db <db> args...
    Run operator()(std::vector<std::string> args) const { return raw(withDb(std::move(args))); }

    std::vector<std::string> withDb(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--db", db_});
        return args;
    }

    Run raw(const std::vector<std::string>& args) const {
        const std::string outFile = dir_.file("stdout.txt"), errFile = dir_.file("stderr.txt");
        Run run;
        const pid_t pid = spawnCalltrack(args, outFile, errFile);
        int status = 0;
        waitpid(pid, &status, 0);
        run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        run.out = slurp(outFile);
        run.err = slurp(errFile);
        return run;
    }

  private:
    test::TempDir dir_;
    std::string db_;
};

// Checks a run's exit status and shows its output when it is not the expected one.
#define CHECK_EXIT(run, expected)                             \
    do {                                                      \
        const Run& r_ = (run);                                \
        INFO("stdout: " << r_.out << "\nstderr: " << r_.err); \
        CHECK(r_.status == (expected));                       \
    } while (false)

// The value of row `name` in a field/value table (`client show`, `bot show`, `client warm-pool`).
std::string field(const std::string& table, const std::string& name) {
    std::istringstream in(table);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + " ", 0) != 0) continue;
        const auto value = line.find_first_not_of(' ', name.size());
        return value == std::string::npos ? "" : line.substr(value);
    }
    return "<no field " + name + ">";
}

// What the bot scheduler in `serve` does after a successful warm-up; the CLI
// cannot warm bots, so tests of admission with bots stand in for it.
void makeReady(const Cli& cli, const std::string& botId) {
    SQLite::Database raw(cli.db(), SQLite::OPEN_READWRITE);
    raw.exec(
        "UPDATE bots SET state = 'ready', state_reason = 'warmed by the test', "
        "idle_until = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 3600000 "
        "WHERE id = '" +
        botId + "'");
}

Cli migrated() {
    Cli cli;
    const auto r = cli({"migrate"});
    REQUIRE(r.status == 0);
    return cli;
}

}  // namespace

TEST_SUITE("cli") {
    TEST_CASE("status on a missing database exits 6 with a one-line message and creates nothing") {
        Cli cli;
        const auto r = cli({"status"});
        CHECK_EXIT(r, app::kWrongDatabase);
        CHECK(r.lines() == 1);
        CHECK(has(r.err, "no database"));
        CHECK(has(r.err, "migrate"));
        CHECK_FALSE(std::filesystem::exists(cli.db()));
    }

    TEST_CASE("migrate creates the database; a second run changes nothing") {
        Cli cli;
        auto r = cli({"migrate"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "created"));
        CHECK(std::filesystem::exists(cli.db()));
        r = cli({"migrate"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "already at schema version " + std::to_string(db::kSchemaVersion)));
        CHECK_EXIT(cli({"status"}), app::kOk);
    }

    TEST_CASE("client add, set, show and list") {
        Cli cli = migrated();
        auto r = cli({"client", "add", "acme", "--limit", "3", "--name", "Acme Corp"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "Acme Corp"));
        CHECK(has(r.out, "enforce"));

        r = cli(
            {"client", "set", "acme", "--limit", "5", "--mode", "observe", "--ring-timeout", "30"});
        CHECK_EXIT(r, app::kOk);

        r = cli({"client", "show", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "observe"));
        CHECK(has(r.out, "Acme Corp"));
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT max_concurrent FROM clients WHERE id = 'acme'") == 5);
        CHECK(scalar(raw, "SELECT ring_timeout_s FROM clients WHERE id = 'acme'") == 30);

        CHECK_EXIT(cli({"client", "add", "beta", "--limit", "1", "--disable"}), app::kOk);
        r = cli({"client", "list"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "acme"));
        CHECK(has(r.out, "beta"));

        // Errors: a second add of the same id, a client that does not exist.
        r = cli({"client", "add", "acme", "--limit", "1"});
        CHECK_EXIT(r, app::kUsage);
        CHECK(r.lines() == 1);
        r = cli({"client", "show", "ghost"});
        CHECK_EXIT(r, app::kNotFound);
        CHECK(r.lines() == 1);
        CHECK_EXIT(cli({"client", "set", "ghost", "--limit", "1"}), app::kNotFound);
        CHECK_EXIT(cli({"client", "add", "bad id", "--limit", "1"}), app::kUsage);
    }

    TEST_CASE("limit global sets and shows the global limit") {
        Cli cli = migrated();
        auto r = cli({"limit", "global", "7"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "global limit 7"));
        r = cli({"limit", "global"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "global limit 7, active 0"));
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT global_limit FROM settings") == 7);
    }

    TEST_CASE("admit until refused, end by id, list calls, status, check") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "2"}).status == 0);

        auto r = cli({"admit", "acme", "--external-id", "CA1"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "admitted call"));
        r = cli({"admit", "acme", "--external-id", "CA2", "--metadata", R"({"campaign":"x"})"});
        CHECK_EXIT(r, app::kOk);
        r = cli({"admit", "acme", "--external-id", "CA3"});
        CHECK_EXIT(r, app::kRefused);
        CHECK(has(r.err, "refused: client_limit_reached"));
        CHECK(r.lines() == 1);
        // A retry of an admitted call is not refused.
        r = cli({"admit", "acme", "--external-id", "CA1"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "existing"));

        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        const int64_t id = scalar(raw, "SELECT id FROM calls WHERE external_id = 'CA1'");

        r = cli({"calls"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "CA1"));
        CHECK(has(r.out, "CA2"));

        r = cli({"end", std::to_string(id)});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "applied"));
        CHECK(has(r.out, "canceled"));
        r = cli({"end", std::to_string(id)});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "after_end"));
        CHECK_EXIT(cli({"end", "--client", "acme", "--external-id", "CA2", "--reason", "done"}),
                   app::kOk);
        CHECK_EXIT(cli({"end", "999999"}), app::kNotFound);
        CHECK_EXIT(cli({"end"}), app::kUsage);

        r = cli({"calls"});
        CHECK_EXIT(r, app::kOk);
        CHECK_FALSE(has(r.out, "CA1"));
        r = cli({"calls", "--ended"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "CA1"));
        CHECK(has(r.out, "CA2"));

        // Room again after the ends.
        CHECK_EXIT(cli({"admit", "acme", "--external-id", "CA4"}), app::kOk);
        // Issue 8 §6: an unknown client is 5 (README), as for every other command.
        CHECK_EXIT(cli({"admit", "ghost"}), app::kNotFound);

        r = cli({"status"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "GLOBAL"));
        CHECK(has(r.out, "acme"));

        r = cli({"check"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "check passed"));
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 1);
    }

    TEST_CASE("check exits 1 when an invariant is broken") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "2"}).status == 0);
        REQUIRE(cli({"admit", "acme"}).status == 0);
        CHECK_EXIT(cli({"check"}), app::kOk);
        {
            // v4 refuses counter jumps from a shell, but a one-step edit is
            // indistinguishable from calltrack's own: check finds it.
            SQLite::Database raw(cli.db(), SQLite::OPEN_READWRITE);
            CHECK_THROWS_WITH(raw.exec("UPDATE clients SET active = active + 5"),
                              doctest::Contains("check --repair"));
            raw.exec("UPDATE clients SET active = active + 1");
        }
        const auto r = cli({"check"});
        CHECK_EXIT(r, app::kFailure);
        CHECK(has(r.out, "VIOLATED"));
        CHECK(has(r.out, "check FAILED"));

        // --repair recomputes it from the live calls and says so.
        const auto repaired = cli({"check", "--repair"});
        CHECK_EXIT(repaired, app::kOk);
        CHECK(has(repaired.out, "repaired client acme: active 2 -> 1"));
        CHECK(has(repaired.out, "repair: 1 counters changed"));
        CHECK(has(repaired.out, "check passed"));
        const auto again = cli({"check", "--repair"});
        CHECK(has(again.out, "repair: 0 counters changed"));
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT count(*) FROM counter_repairs") == 0);
    }

    TEST_CASE("bad arguments exit 2 with a one-line message") {
        Cli cli = migrated();
        const std::vector<std::vector<std::string>> cases = {
            {"status", "--bogus"},           // unknown option
            {"--no-such-option", "status"},  // unknown global option
            {"client", "add"},               // missing id
            {"client", "add", "acme"},       // missing --limit
            {"limit", "global", "abc"},      // not an integer
            {"client", "add", "acme", "--limit", "x"},
            {"client", "add", "acme", "--limit", "2", "--mode", "sometimes"},
            {"admit"},       // missing client
            {"frobnicate"},  // unknown command
            {},              // no command
        };
        for (const auto& args : cases) {
            std::string shown;
            for (const auto& a : args) shown += a + " ";
            CAPTURE(shown);
            const auto r = cli(args);
            CHECK_EXIT(r, app::kUsage);
            CHECK(r.lines() == 1);
            CHECK(r.out.empty());
        }
        // Nothing was created by any of them.
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT count(*) FROM clients") == 0);
    }

    TEST_CASE("the CLI refuses every value the API refuses (one set of bounds), exit 2") {
        Cli cli = migrated();
        // Each of these succeeded before issue 8 while the API refused it.
        const std::vector<std::vector<std::string>> cases = {
            {"client", "add", "big", "--limit", "99999999999"},
            {"client", "add", "big", "--limit", "2", "--ring-timeout", "86401"},
            {"client", "add", "big", "--limit", "2", "--max-call", "604801"},
            {"limit", "global", "1000000001"},
        };
        for (const auto& args : cases) {
            std::string shown;
            for (const auto& a : args) shown += a + " ";
            CAPTURE(shown);
            const auto r = cli(args);
            CHECK_EXIT(r, app::kUsage);
            CHECK(r.lines() == 1);
        }
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT count(*) FROM clients") == 0);
        CHECK(scalar(raw, "SELECT global_limit FROM settings") == 100);
        // The largest values both accept.
        CHECK_EXIT(cli({"client", "add", "big", "--limit", "1000000000"}), app::kOk);
        CHECK_EXIT(cli({"limit", "global", "1000000000"}), app::kOk);
    }

    TEST_CASE("a database from a newer calltrack exits 6: newer than this calltrack") {
        Cli cli = migrated();
        {
            SQLite::Database raw(cli.db(), SQLite::OPEN_READWRITE);
            raw.exec("PRAGMA user_version = 99");
        }
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {"status"}, {"client", "add", "acme", "--limit", "1"}, {"migrate"}, {"check"}}) {
            CAPTURE(args.front());
            const auto r = cli(args);
            CHECK_EXIT(r, app::kWrongDatabase);
            CHECK(has(r.err, "newer than this calltrack"));
            CHECK(r.lines() == 1);
        }
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "PRAGMA user_version") == 99);
        CHECK(scalar(raw, "SELECT count(*) FROM clients") == 0);
    }

    TEST_CASE("a database locked by another writer exits 3 after --busy-timeout-ms") {
        Cli cli = migrated();
        {
            SQLite::Database holder(cli.db(), SQLite::OPEN_READWRITE);
            holder.exec("BEGIN IMMEDIATE");
            const auto r =
                cli({"--busy-timeout-ms", "100", "client", "add", "acme", "--limit", "1"});
            CHECK_EXIT(r, app::kBusy);
            CHECK(r.lines() == 1);
            CHECK(has(r.err, "locked"));
            // Reads are not blocked by a writer (WAL).
            CHECK_EXIT(cli({"--busy-timeout-ms", "100", "status"}), app::kOk);
            holder.exec("ROLLBACK");
        }
        CHECK_EXIT(cli({"--busy-timeout-ms", "100", "client", "add", "acme", "--limit", "1"}),
                   app::kOk);
    }
    TEST_CASE("bot put creates and replaces, show prints every field, list filters, delete") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "2"}).status == 0);
        auto r = cli({"bot", "put", "b1", "--url", "http://127.0.0.1:9/warm", "--client", "acme",
                      "--capacity", "2", "--timeout-ms", "5000"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "created bot b1"));
        CHECK(field(r.out, "client") == "acme");
        CHECK(field(r.out, "state") == "cold");
        CHECK(field(r.out, "capacity") == "2");
        CHECK(field(r.out, "warmup_timeout_ms") == "5000");
        // Put replaces the whole configuration: same url and client keep the state.
        r = cli({"bot", "put", "b1", "--url", "http://127.0.0.1:9/warm", "--client", "acme",
                 "--capacity", "3"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "updated bot b1"));
        CHECK(field(r.out, "warmup_timeout_ms") == "10000");
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT capacity FROM bots WHERE id = 'b1'") == 3);
        CHECK(scalarText(raw, "SELECT client_id FROM bots WHERE id = 'b1'") == "acme");

        r = cli({"bot", "put", "s1", "--url", "https://bots.example/s1/warm"});
        CHECK_EXIT(r, app::kOk);
        CHECK(field(r.out, "client") == "(shared)");
        CHECK(scalarText(raw, "SELECT client_id FROM bots WHERE id = 's1'") == "<null>");

        r = cli({"bot", "show", "b1"});
        CHECK_EXIT(r, app::kOk);
        for (const char* name :
             {"id", "client", "warmup_url", "capacity", "warmup_timeout_ms", "state",
              "active_calls", "warm_for", "state_reason", "state_changed_at", "attempt_id",
              "warming_until", "idle_until", "retry_at", "failures", "last_warmup_ms", "created_at",
              "updated_at", "version"}) {
            CAPTURE(name);
            CHECK(field(r.out, name).rfind("<no field", 0) != 0);
        }
        CHECK(field(r.out, "warmup_url") == "http://127.0.0.1:9/warm");
        // Times are ISO-8601 UTC, like every other time the CLI prints.
        const auto created = field(r.out, "created_at");
        CHECK(created.size() == 24);
        CHECK(created[10] == 'T');
        CHECK(created.back() == 'Z');
        CHECK(field(r.out, "idle_until") == "-");

        r = cli({"bot", "list"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "calls/capacity"));
        CHECK(has(r.out, "0/3"));
        CHECK(has(r.out, "(shared)"));
        CHECK(has(r.out, "registered"));
        r = cli({"bot", "list", "--client", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "b1"));
        CHECK_FALSE(has(r.out, "s1"));
        r = cli({"bot", "list", "--state", "ready"});
        CHECK_EXIT(r, app::kOk);
        CHECK_FALSE(has(r.out, "b1"));
        r = cli({"bot", "list", "--state", "cold"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "b1"));
        CHECK(has(r.out, "s1"));

        r = cli({"bot", "delete", "s1"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "deleted bot s1"));
        CHECK(scalar(raw, "SELECT count(*) FROM bots WHERE id = 's1'") == 0);
        CHECK_EXIT(cli({"bot", "show", "s1"}), app::kNotFound);
        CHECK_EXIT(cli({"check"}), app::kOk);
    }

    TEST_CASE("bot errors: unknown bot 5, bad url 2, unknown client 5, bad state 2") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "2"}).status == 0);
        const std::vector<std::pair<std::vector<std::string>, int>> cases = {
            {{"bot", "show", "ghost"}, app::kNotFound},
            {{"bot", "delete", "ghost"}, app::kNotFound},
            {{"bot", "put", "b1", "--url", "ftp://bots.example/warm"}, app::kUsage},
            {{"bot", "put", "b1", "--url", "http://bots.example/a b"}, app::kUsage},
            {{"bot", "put", "b1", "--url", "http://bots.example/w", "--client", "ghost"},
             app::kNotFound},
            {{"bot", "put", "b1", "--url", "http://bots.example/w", "--capacity", "0"},
             app::kUsage},
            {{"bot", "put", "b1", "--url", "http://bots.example/w", "--timeout-ms", "5"},
             app::kUsage},
            {{"bot", "put", "bad id", "--url", "http://bots.example/w"}, app::kUsage},
            {{"bot", "put", "b1"}, app::kUsage},  // --url is required
            {{"bot", "list", "--state", "hot"}, app::kUsage},
            {{"bot", "list", "--client", "ghost"}, app::kNotFound},
            {{"bot"}, app::kUsage},
        };
        for (const auto& [args, expected] : cases) {
            std::string shown;
            for (const auto& a : args) shown += a + " ";
            CAPTURE(shown);
            const auto r = cli(args);
            CHECK_EXIT(r, expected);
            CHECK(r.lines() == 1);
            CHECK(r.out.empty());
        }
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT count(*) FROM bots") == 0);
    }

    TEST_CASE("client add/set take bots_required and the warm-pool policy; show prints them") {
        Cli cli = migrated();
        auto r = cli({"client", "add", "acme", "--limit", "4", "--bots-required", "yes",
                      "--min-warm", "1", "--headroom", "2", "--max-warm", "3"});
        CHECK_EXIT(r, app::kOk);
        CHECK(field(r.out, "bots_required") == "yes");
        CHECK(field(r.out, "warm_pool.min_warm") == "1");
        CHECK(field(r.out, "warm_pool.max_warm") == "3");
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT bots_required FROM clients WHERE id = 'acme'") == 1);
        CHECK(scalar(raw, "SELECT warm_headroom FROM clients WHERE id = 'acme'") == 2);

        // Only the options given change: the rest of the policy stays.
        r = cli({"client", "set", "acme", "--max-warm", "none", "--warm-ttl-s", "60",
                 "--lead-time-s", "30"});
        CHECK_EXIT(r, app::kOk);
        CHECK(scalarText(raw, "SELECT warm_max FROM clients WHERE id = 'acme'") == "<null>");
        CHECK(scalar(raw, "SELECT warm_min FROM clients WHERE id = 'acme'") == 1);
        CHECK(scalar(raw, "SELECT warm_headroom FROM clients WHERE id = 'acme'") == 2);
        CHECK(scalar(raw, "SELECT warm_ttl_s FROM clients WHERE id = 'acme'") == 60);
        CHECK(scalar(raw, "SELECT warm_lead_time_s FROM clients WHERE id = 'acme'") == 30);
        CHECK(scalar(raw, "SELECT bots_required FROM clients WHERE id = 'acme'") == 1);

        r = cli({"client", "show", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK(field(r.out, "bots_required") == "yes");
        CHECK(field(r.out, "warm_pool.max_warm") == "none");
        CHECK(field(r.out, "warm_pool.headroom") == "2");
        CHECK(field(r.out, "warm_pool.warm_ttl_s") == "60");
        CHECK(field(r.out, "warm_pool.lead_time_s") == "30");

        CHECK_EXIT(cli({"client", "set", "acme", "--bots-required", "no"}), app::kOk);
        CHECK(scalar(raw, "SELECT bots_required FROM clients WHERE id = 'acme'") == 0);

        const std::vector<std::vector<std::string>> bad = {
            {"client", "set", "acme", "--max-warm", "lots"},
            {"client", "set", "acme", "--max-warm", "-1"},
            {"client", "set", "acme", "--bots-required", "maybe"},
            {"client", "set", "acme", "--min-warm", "-1"},
            {"client", "set", "acme", "--headroom", "2x"},
            {"client", "set", "acme", "--warm-ttl-s", "0"},
            {"client", "set", "acme", "--max-warm", "0"},  // below min_warm 1
        };
        for (const auto& args : bad) {
            CAPTURE(args.back());
            const auto r2 = cli(args);
            CHECK_EXIT(r2, app::kUsage);
            CHECK(r2.lines() == 1);
        }
        CHECK(scalar(raw, "SELECT warm_min FROM clients WHERE id = 'acme'") == 1);
        CHECK_EXIT(cli({"client", "set", "ghost", "--min-warm", "1"}), app::kNotFound);
    }

    TEST_CASE("client schedule, schedules and unschedule") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "4"}).status == 0);
        auto r = cli({"client", "schedule", "acme", "--starts-at", "2099-03-01T09:00:00Z",
                      "--ends-at", "2099-03-01T17:00:00Z", "--concurrency", "5"});
        CHECK_EXIT(r, app::kOk);
        SQLite::Database raw(cli.db(), SQLite::OPEN_READONLY);
        const int64_t id = scalar(raw, "SELECT max(id) FROM demand_schedules");
        CHECK(has(r.out, "schedule " + std::to_string(id) + ":"));
        CHECK(scalar(raw, "SELECT expected_concurrency FROM demand_schedules") == 5);
        r = cli({"client", "schedule", "acme", "--starts-at", "2099-02-01T09:00:00.250Z",
                 "--ends-at", "2099-02-01T10:00:00Z", "--concurrency", "2"});
        CHECK_EXIT(r, app::kOk);

        r = cli({"client", "schedules", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "2099-03-01T09:00:00.000Z"));
        CHECK(has(r.out, "2099-03-01T17:00:00.000Z"));
        // Soonest first.
        CHECK(r.out.find("2099-02-01T09:00:00.250Z") < r.out.find("2099-03-01T09:00:00.000Z"));

        r = cli({"client", "unschedule", "acme", std::to_string(id)});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "removed schedule " + std::to_string(id)));
        r = cli({"client", "schedules", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK_FALSE(has(r.out, "2099-03-01"));
        CHECK(has(r.out, "2099-02-01"));
        CHECK_EXIT(cli({"client", "unschedule", "acme", std::to_string(id)}), app::kNotFound);

        const std::vector<std::pair<std::vector<std::string>, int>> cases = {
            {{"client", "schedule", "acme", "--starts-at", "tomorrow", "--ends-at",
              "2099-03-01T17:00:00Z", "--concurrency", "5"},
             app::kUsage},
            {{"client", "schedule", "acme", "--starts-at", "2099-03-01T09:00:00Z", "--ends-at",
              "2099-03-01 17:00", "--concurrency", "5"},
             app::kUsage},
            {{"client", "schedule", "acme", "--starts-at", "2099-03-01T09:00:00+02:00", "--ends-at",
              "2099-03-01T17:00:00Z", "--concurrency", "5"},
             app::kUsage},
            {{"client", "schedule", "acme", "--starts-at", "2099-03-01T17:00:00Z", "--ends-at",
              "2099-03-01T09:00:00Z", "--concurrency", "5"},
             app::kUsage},
            {{"client", "schedule", "acme", "--starts-at", "2000-01-01T09:00:00Z", "--ends-at",
              "2000-01-01T10:00:00Z", "--concurrency", "5"},
             app::kUsage},  // over already
            {{"client", "schedule", "acme", "--starts-at", "2099-03-01T09:00:00Z", "--ends-at",
              "2099-03-01T17:00:00Z", "--concurrency", "0"},
             app::kUsage},
            {{"client", "schedule", "acme", "--starts-at", "2099-03-01T09:00:00Z"}, app::kUsage},
            {{"client", "schedule", "ghost", "--starts-at", "2099-03-01T09:00:00Z", "--ends-at",
              "2099-03-01T17:00:00Z", "--concurrency", "5"},
             app::kNotFound},
            {{"client", "schedules", "ghost"}, app::kNotFound},
            {{"client", "unschedule", "acme", "x"}, app::kUsage},
            {{"client", "unschedule", "ghost", "1"}, app::kNotFound},
        };
        for (const auto& [args, expected] : cases) {
            std::string shown;
            for (const auto& a : args) shown += a + " ";
            CAPTURE(shown);
            const auto r2 = cli(args);
            CHECK_EXIT(r2, expected);
            CHECK(r2.lines() == 1);
            CHECK(r2.out.empty());
        }
        r = cli({"client", "schedule", "acme", "--starts-at", "tomorrow", "--ends-at",
                 "2099-03-01T17:00:00Z", "--concurrency", "5"});
        CHECK(has(r.err, "--starts-at"));
        CHECK(has(r.err, "ISO-8601"));
        CHECK(scalar(raw, "SELECT count(*) FROM demand_schedules") == 1);
    }

    TEST_CASE("client warm-pool shows the target, the bots by state and why") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "4", "--bots-required", "yes",
                     "--min-warm", "2"})
                    .status == 0);
        REQUIRE(
            cli({"bot", "put", "b1", "--url", "http://127.0.0.1:9/1", "--client", "acme"}).status ==
            0);
        REQUIRE(
            cli({"bot", "put", "b2", "--url", "http://127.0.0.1:9/2", "--client", "acme"}).status ==
            0);
        REQUIRE(cli({"bot", "put", "b3", "--url", "http://127.0.0.1:9/3"}).status == 0);
        makeReady(cli, "b1");
        auto r = cli({"client", "warm-pool", "acme"});
        CHECK_EXIT(r, app::kOk);
        CHECK(field(r.out, "target") == "2");
        CHECK(field(r.out, "ready") == "1");
        CHECK(field(r.out, "warming") == "0");
        CHECK(field(r.out, "busy") == "0");
        CHECK(field(r.out, "cold_available") == "2");
        CHECK(field(r.out, "usable_bots") == "3");
        CHECK(field(r.out, "bots_required") == "yes");
        CHECK(field(r.out, "min_warm") == "2");
        CHECK(field(r.out, "max_warm") == "none");
        CHECK(has(field(r.out, "why"), "target 2"));

        // Without bots_required the scheduler keeps nothing warm, and says so.
        REQUIRE(cli({"client", "add", "beta", "--limit", "1"}).status == 0);
        r = cli({"client", "warm-pool", "beta"});
        CHECK_EXIT(r, app::kOk);
        CHECK(field(r.out, "target") == "0");
        CHECK(has(field(r.out, "why"), "bots_required is off"));

        r = cli({"client", "warm-pool", "ghost"});
        CHECK_EXIT(r, app::kNotFound);
        CHECK(r.lines() == 1);
    }

    TEST_CASE("admit gives a bots_required call a warm bot; none free exits 4 bot_unavailable") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "3", "--bots-required", "yes"}).status ==
                0);
        REQUIRE(
            cli({"bot", "put", "b1", "--url", "http://127.0.0.1:9/1", "--client", "acme"}).status ==
            0);

        // The only bot is cold: refused, with the reason on one line.
        auto r = cli({"admit", "acme", "--external-id", "CA1"});
        CHECK_EXIT(r, app::kRefused);
        CHECK(has(r.err, "refused: bot_unavailable"));
        CHECK(has(r.err, "no warm bot"));
        CHECK(r.lines() == 1);
        CHECK(r.out.empty());
        // The refusal is demand the pool failed to meet.
        r = cli({"client", "warm-pool", "acme"});
        CHECK(field(r.out, "unmet_demand") == "1");

        makeReady(cli, "b1");
        r = cli({"admit", "acme", "--external-id", "CA1"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "admitted call"));
        CHECK(has(r.out, " bot b1"));
        // A retry returns the same call with the same bot.
        r = cli({"admit", "acme", "--external-id", "CA1"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "existing"));
        CHECK(has(r.out, " bot b1"));
        // b1 has capacity 1: the next call finds no free bot.
        r = cli({"admit", "acme", "--external-id", "CA2"});
        CHECK_EXIT(r, app::kRefused);
        CHECK(has(r.err, "refused: bot_unavailable"));

        r = cli({"calls"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, " bot "));
        CHECK(has(r.out, " b1 "));
        r = cli({"bot", "list", "--state", "busy"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "1/1"));

        // A bot carrying a call cannot be removed (conflict: exit 2).
        r = cli({"bot", "delete", "b1"});
        CHECK_EXIT(r, app::kUsage);
        CHECK(has(r.err, "carries"));
        CHECK_EXIT(cli({"end", "--client", "acme", "--external-id", "CA1"}), app::kOk);
        r = cli({"bot", "show", "b1"});
        CHECK(field(r.out, "state") == "ready");
        CHECK(field(r.out, "active_calls") == "0");
        CHECK_EXIT(cli({"bot", "delete", "b1"}), app::kOk);
        CHECK_EXIT(cli({"check"}), app::kOk);
    }

    TEST_CASE("--json on every read command: one JSON document each") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "2"}).status == 0);
        REQUIRE(cli({"bot", "put", "b1", "--url", "http://127.0.0.1:9/warm", "--client", "acme"})
                    .status == 0);
        REQUIRE(cli({"admit", "acme", "--external-id", "x1"}).status == 0);
        REQUIRE(cli({"admit", "acme", "--external-id", "x2"}).status == 0);
        CHECK_EXIT(cli({"admit", "acme", "--external-id", "x3"}), app::kRefused);

        const auto json = [&](std::vector<std::string> args) {
            const auto r = cli(args);
            CAPTURE(r.all());
            REQUIRE(r.status == 0);
            return nlohmann::json::parse(r.out);  // throws (fails) unless exactly one document
        };
        auto j = json({"status", "--json"});
        CHECK(j["global"]["active"] == 2);
        CHECK(j["clients"][0]["client_id"] == "acme");
        CHECK(j["clients"][0]["active"] == 2);
        j = json({"calls", "--json"});
        CHECK(j["calls"].size() == 2);
        CHECK(j["calls"][0]["client_id"] == "acme");
        j = json({"client", "show", "acme", "--json"});
        CHECK(j["id"] == "acme");
        CHECK(j["max_concurrent"] == 2);
        j = json({"client", "list", "--json"});
        CHECK(j["clients"].size() == 1);
        j = json({"bot", "list", "--json"});
        CHECK(j["bots"][0]["id"] == "b1");
        j = json({"history", "--json"});
        CHECK(j["client_id"] == "*");
        CHECK(j["samples"].is_array());
        j = json({"history", "--client", "acme", "--json", "--step", "300"});
        CHECK(j["step_s"] == 300);
        j = json({"capacity", "--json"});
        CHECK(j["clients"][0]["client_id"] == "acme");
        CHECK(j["clients"][0]["current_limit"] == 2);
        CHECK(j["global"]["verdict"] == "not enough history");
        CHECK_EXIT(cli({"history", "--client", "nobody"}), app::kNotFound);
        CHECK_EXIT(cli({"history", "--from", "yesterday"}), app::kUsage);
        CHECK_EXIT(cli({"capacity", "--blocking", "0"}), app::kUsage);
    }

    TEST_CASE(
        "capacity plan answers from Erlangs or lines, matches the table, takes 10 000 lines") {
        Cli cli;
        auto r = cli.raw({"capacity", "plan", "--erlangs", "8.1", "--blocking", "0.01", "--json"});
        CHECK_EXIT(r, app::kOk);
        auto j = nlohmann::json::parse(r.out);
        CHECK(j["lines"] == 15);
        CHECK(j["blocking_at_lines"].get<double>() <= 0.01);
        r = cli.raw({"capacity", "plan", "--lines", "100", "--json"});
        j = nlohmann::json::parse(r.out);
        CHECK(j["erlangs_carried"].get<double>() == doctest::Approx(84.064).epsilon(0.0001));
        r = cli.raw({"capacity", "plan", "--lines", "10000", "--blocking", "0.01", "--json"});
        CHECK_EXIT(r, app::kOk);
        j = nlohmann::json::parse(r.out);
        CHECK(j["erlangs_carried"].get<double>() > 9800);
        r = cli.raw({"capacity", "plan", "--erlangs", "9800", "--json"});
        CHECK_EXIT(r, app::kOk);
        CHECK(nlohmann::json::parse(r.out)["lines"].get<int64_t>() <= 10000);
        r = cli.raw({"capacity", "plan", "--erlangs", "8.108", "--blocking", "0.01"});
        CHECK(has(r.out, "need 15 lines"));
        CHECK_EXIT(cli.raw({"capacity", "plan", "--erlangs", "-1"}), app::kUsage);
        CHECK_EXIT(cli.raw({"capacity", "plan", "--erlangs", "5", "--blocking", "1"}), app::kUsage);
        CHECK_EXIT(cli.raw({"capacity", "plan"}), app::kUsage);
        CHECK_EXIT(cli.raw({"capacity", "plan", "--erlangs", "5", "--lines", "3"}), app::kUsage);
    }

    TEST_CASE("top --once renders bars against the limits, rates, bots and leases") {
        Cli cli = migrated();
        REQUIRE(cli({"client", "add", "acme", "--limit", "4"}).status == 0);
        REQUIRE(cli({"admit", "acme", "--external-id", "x1"}).status == 0);
        REQUIRE(cli({"admit", "acme", "--external-id", "x2"}).status == 0);
        const auto r = cli({"top", "--once", "--interval-ms", "100"});
        CHECK_EXIT(r, app::kOk);
        CHECK(has(r.out, "GLOBAL"));
        CHECK(has(r.out, "[###############...............]"));  // 2 of 4
        CHECK(has(r.out, "admit/s"));
        CHECK(has(r.out, "oldest live call"));
        CHECK(has(r.out, "bots:"));
        CHECK(has(r.out, "leases:"));
        CHECK(r.out.find("\033[") == std::string::npos);  // no escape codes into a pipe
    }

    TEST_CASE("alert rule, receiver and list: put, list as JSON, delete, errors") {
        Cli cli = migrated();
        auto r = cli({"alert", "rule", "list", "--json"});
        CHECK_EXIT(r, app::kOk);
        CHECK(nlohmann::json::parse(r.out)["rules"].size() == 6);  // the shipped defaults
        CHECK_EXIT(cli({"alert", "rule", "put", "hot", "--kind", "client_utilization", "--fire-at",
                        "0.9", "--clear-at", "0.7", "--for-s", "30"}),
                   app::kOk);
        r = cli({"alert", "rule", "put", "bad", "--kind", "client_utilization", "--fire-at", "0.5",
                 "--clear-at", "0.7", "--for-s", "30"});
        CHECK_EXIT(r, app::kUsage);
        CHECK(has(r.err, "clear_at must be below fire_at"));
        CHECK_EXIT(cli({"alert", "rule", "put", "x", "--kind", "client_utilization", "--client",
                        "nobody", "--fire-at", "0.9", "--clear-at", "0.7", "--for-s", "30"}),
                   app::kNotFound);
        CHECK_EXIT(cli({"alert", "receiver", "put", "ops", "--url", "http://127.0.0.1:9/hook"}),
                   app::kOk);
        CHECK_EXIT(cli({"alert", "receiver", "put", "sw", "--url", "http://127.0.0.1:9/hook",
                        "--format", "standard-webhooks"}),
                   app::kUsage);  // needs --secret
        r = cli({"alert", "receiver", "list", "--json"});
        const auto receivers = nlohmann::json::parse(r.out)["receivers"];
        REQUIRE(receivers.size() == 1);
        CHECK(receivers[0]["queued"] == 0);
        CHECK(receivers[0]["secret_set"] == false);
        r = cli({"alert", "list", "--json"});
        CHECK_EXIT(r, app::kOk);
        CHECK(nlohmann::json::parse(r.out)["alerts"].empty());
        CHECK_EXIT(cli({"alert", "rule", "delete", "hot"}), app::kOk);
        CHECK_EXIT(cli({"alert", "rule", "delete", "hot"}), app::kNotFound);
        CHECK_EXIT(cli({"alert", "receiver", "delete", "ops"}), app::kOk);
        CHECK_EXIT(cli({"alert", "receiver", "delete", "ops"}), app::kNotFound);
    }
}
