// The real `calltrack` binary: commands, output and exit statuses
// (app/ExitCode.h) as an operator or a script sees them.

#include "app/ExitCode.h"
#include "tests/CalltrackProcess.h"
#include "tests/TestSupport.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>

extern char** environ;

using namespace calltrack;
using test::scalar;
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
        CHECK_EXIT(cli({"admit", "ghost"}), app::kRefused);

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
            // Counters have no trigger guard: a hand edit can break them.
            SQLite::Database raw(cli.db(), SQLite::OPEN_READWRITE);
            raw.exec("UPDATE clients SET active = active + 5");
        }
        const auto r = cli({"check"});
        CHECK_EXIT(r, app::kFailure);
        CHECK(has(r.out, "VIOLATED"));
        CHECK(has(r.out, "check FAILED"));
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
}
