// schema.sql as the database's own guard: versions, operator views, and the
// triggers and unique indexes that keep a hand-written statement in an
// operator's SQL shell from overbooking a client or rewriting history. Also
// schema migration and the refusal to open databases calltrack cannot use.

#include "db/IsoTime.h"
#include "db/coordination/LeaderLease.h"
#include "db/storage/SchemaSql.h"
#include "db/tenants/WebhookCredentials.h"
#include "tests/TestSupport.h"

#include <SQLiteCpp/Exception.h>

#include <chrono>
#include <fstream>
#include <latch>
#include <sstream>
#include <thread>

using namespace calltrack;
using test::scalar;
using test::scalarText;

namespace {

const int64_t kFarFuture = 4'000'000'000'000;  // expires_at for hand-inserted live calls

using test::openRaw;
using test::tryExec;

std::string slotSql(const std::optional<int64_t>& v) {
    return v ? std::to_string(*v) : "NULL";
}

// A hand-written INSERT of a live call, with every column the schema requires.
std::string insertLive(SQLite::Database& raw, const std::string& client,
                       const std::string& external, std::optional<int64_t> clientSlot,
                       std::optional<int64_t> globalSlot, const std::string& state = "reserved") {
    const bool admittedAt =
        scalar(raw, "SELECT count(*) FROM pragma_table_info('calls') WHERE name = 'admitted_at'") ==
        1;
    return std::string(
               "INSERT INTO calls (client_id, external_id, state, client_slot, global_slot, ") +
           (admittedAt ? "admitted_at, " : "") + "created_at, updated_at, expires_at) VALUES ('" +
           client + "', '" + external + "', '" + state + "', " + slotSql(clientSlot) + ", " +
           slotSql(globalSlot) + ", " + (admittedAt ? "1, " : "") + "1, 1, " +
           std::to_string(kFarFuture) + ")";
}

int64_t liveOf(SQLite::Database& raw, const std::string& client) {
    return scalar(raw, "SELECT count(*) FROM calls WHERE client_id = '" + client +
                           "' AND ended_at IS NULL AND client_slot IS NOT NULL");
}
int64_t liveAll(SQLite::Database& raw) {
    return scalar(raw,
                  "SELECT count(*) FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// "yyyy-mm-ddThh:mm:ss.mmmZ" exactly: parses, and prints back the same.
// (No <regex>: libstdc++'s trips -Wmaybe-uninitialized under ASan.)
bool isIsoMillis(const std::string& text) {
    const auto ms = db::parseIsoTime(text);
    return ms && db::isoTime(*ms) == text;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A test database with two enforce-mode clients and a global limit, plus an
// operator's raw connection to the same file.
struct GuardFixture {
    GuardFixture() {
        t.clients->create("acme", test::limitPatch(2));
        t.clients->create("beta", test::limitPatch(5));
        t.clients->setGlobalLimit(4);
    }
    test::TestDatabase t;
    SQLite::Database raw = openRaw(t.options.path);
};

}  // namespace

TEST_SUITE("schema version") {
    TEST_CASE("schema.sql applied to an empty database sets user_version to kSchemaVersion") {
        const std::string text = readFile(std::string(CALLTRACK_SOURCE_DIR) + "/schema.sql");
        REQUIRE_FALSE(text.empty());
        // The compiled-in copy is the file as it is now.
        CHECK(text == std::string(db::kSchemaSql));
        // The header comment says the same version.
        CHECK(contains(text, "-- schema-version: " + std::to_string(db::kSchemaVersion) + "\n"));

        test::TempDir dir;
        SQLite::Database raw(dir.file("plain.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec(text);
        CHECK(scalar(raw, "PRAGMA user_version") == db::kSchemaVersion);
    }

    TEST_CASE("a database created by the engine is at kSchemaVersion and in WAL mode") {
        test::TestDatabase t;
        CHECK(scalar(t, "PRAGMA user_version") == db::kSchemaVersion);
        CHECK(scalarText(t, "PRAGMA journal_mode") == "wal");
        CHECK(scalar(t, "SELECT count(*) FROM settings") == 1);
    }
}

TEST_SUITE("operator views") {
    TEST_CASE("every view is queryable and shows times as ISO-8601 UTC text") {
        test::TestDatabase t;
        t.clock.setMs(1'700'000'000'123);  // 2023-11-14T22:13:20.123Z
        t.clients->create("acme", test::limitPatch(4));
        auto r = t.admission->admit(test::admitReq("acme", "CA1"));
        REQUIRE(r.outcome == db::AdmitResult::Outcome::admitted);
        db::LeaderLease lease(t.database->writer(), t.clock, "reaper", "host:1:1", 30'000);
        REQUIRE(lease.acquireOrRenew());

        auto raw = openRaw(t.options.path);

        SUBCASE("active_calls") {
            SQLite::Statement s(
                raw,
                "SELECT id, client_id, external_id, state, holds_slot, admitted_at, "
                "answered_at, expires_at, expires_in_s FROM active_calls");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getInt64() == r.call->id);
            CHECK(s.getColumn(1).getString() == "acme");
            CHECK(s.getColumn(2).getString() == "CA1");
            CHECK(s.getColumn(3).getString() == "reserved");
            CHECK(s.getColumn(4).getString() == "yes");
            CHECK(s.getColumn(5).getString() == "2023-11-14T22:13:20.123Z");
            CHECK(s.getColumn(6).isNull());
            CHECK(s.getColumn(7).getString() == "2023-11-14T22:14:20.123Z");  // ring timeout 60 s
            CHECK(isIsoMillis(s.getColumn(7).getString()));
            CHECK_FALSE(s.executeStep());
        }
        SUBCASE("client_utilization") {
            SQLite::Statement s(
                raw,
                "SELECT client_id, mode, enabled, active, \"limit\", percent, "
                "unslotted_active, refused_total, flagged_total FROM client_utilization");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getString() == "acme");
            CHECK(s.getColumn(1).getString() == "enforce");
            CHECK(s.getColumn(2).getString() == "yes");
            CHECK(s.getColumn(3).getInt64() == 1);
            CHECK(s.getColumn(4).getInt64() == 4);
            CHECK(s.getColumn(5).getDouble() == doctest::Approx(25.0));
            CHECK(s.getColumn(6).getInt64() == 0);
            CHECK(s.getColumn(7).getInt64() == 0);
            CHECK(s.getColumn(8).getInt64() == 0);
        }
        SUBCASE("global_utilization") {
            SQLite::Statement s(
                raw, "SELECT active, \"limit\", percent, clients FROM global_utilization");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getInt64() == 1);
            CHECK(s.getColumn(1).getInt64() == 100);
            CHECK(s.getColumn(2).getDouble() == doctest::Approx(1.0));
            CHECK(s.getColumn(3).getInt64() == 1);
        }
        SUBCASE("call_history") {
            SQLite::Statement s(raw, "SELECT at, kind, outcome, call_id, source FROM call_history");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getString() == "2023-11-14T22:13:20.123Z");
            CHECK(s.getColumn(1).getString() == "admit");
            CHECK(s.getColumn(2).getString() == "admitted");
            CHECK(s.getColumn(3).getInt64() == r.call->id);
            CHECK(s.getColumn(4).getString() == "api");
        }
        SUBCASE("lease_holders") {
            SQLite::Statement s(raw,
                                "SELECT name, holder, acquired_at, expires_at FROM lease_holders");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getString() == "reaper");
            CHECK(s.getColumn(1).getString() == "host:1:1");
            CHECK(s.getColumn(2).getString() == "2023-11-14T22:13:20.123Z");
            CHECK(s.getColumn(3).getString() == "2023-11-14T22:13:50.123Z");
        }
    }
}

TEST_SUITE("database-level guard (raw SQL)") {
    TEST_CASE(
        "shell edits of clients and settings cannot break counters or orphan calls "
        "(issue 9 section 3)") {
        // Each edit below once wedged the reaper (the release trigger's
        // CHECK (active >= 0) failed) or left live calls without a client.
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "c1", 1, 1)) == "");
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "c2", 2, 2)) == "");
        CHECK(contains(tryExec(raw, "UPDATE clients SET active = 0"), "check --repair"));
        CHECK(contains(tryExec(raw, "UPDATE settings SET global_active = 0"), "check --repair"));
        CHECK(contains(
            tryExec(raw, "UPDATE clients SET refused_total = refused_total + 5 WHERE id = 'acme'"),
            "check --repair"));
        CHECK(contains(
            tryExec(raw, "INSERT OR REPLACE INTO settings (id, global_limit) VALUES (1, 9)"),
            "settings row exists"));
        CHECK(contains(tryExec(raw,
                               "INSERT OR REPLACE INTO clients (id, name, max_concurrent, "
                               "created_at, updated_at) VALUES ('acme', 'x', 9, 0, 0)"),
                       "client with this id exists"));
        CHECK(contains(tryExec(raw, "UPDATE clients SET id = 'renamed' WHERE id = 'acme'"),
                       "never changes"));
        CHECK(contains(tryExec(raw, "UPDATE OR REPLACE clients SET id = 'beta' WHERE id = 'acme'"),
                       "never changes"));
        CHECK(contains(tryExec(raw, "DELETE FROM clients WHERE id = 'acme'"), "live calls"));
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 2);
        CHECK(scalar(raw, "SELECT global_active FROM settings") == 2);
        // What calltrack itself does still works: other columns, and ending.
        CHECK(tryExec(raw,
                      "UPDATE clients SET name = 'Acme', max_concurrent = 3 WHERE id = "
                      "'acme'") == "");
        CHECK(tryExec(raw,
                      "UPDATE calls SET state = 'completed', ended_at = updated_at, expires_at = "
                      "NULL WHERE external_id = 'c1'") == "");
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 1);
        CHECK_INVARIANTS(f.t);
        // A one-step edit passes the guard (it looks like calltrack's own);
        // a call can still end, and the counter stops at 0 instead of failing.
        REQUIRE(tryExec(raw, "UPDATE clients SET active = active - 1 WHERE id = 'acme'") == "");
        CHECK(tryExec(raw,
                      "UPDATE calls SET state = 'completed', ended_at = updated_at, expires_at = "
                      "NULL WHERE external_id = 'c2'") == "");
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 0);
        CHECK(scalar(raw, "SELECT global_active FROM settings") == 0);
    }

    TEST_CASE("raw INSERTs cannot commit more live calls than a client's limit") {
        GuardFixture f;
        auto& raw = f.raw;
        CHECK(tryExec(raw, insertLive(raw, "acme", "r1", 1, 1)) == "");
        CHECK(tryExec(raw, insertLive(raw, "acme", "r2", 2, 2)) == "");
        // The triggers keep the counters, whoever the writer is.
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 2);

        const auto above = tryExec(raw, insertLive(raw, "acme", "r3", 3, 3));
        CHECK(contains(above, "client_limit_reached"));
        const auto dup = tryExec(raw, insertLive(raw, "acme", "r4", 1, 3));
        CHECK_FALSE(dup.empty());  // the unique live-slot index or the insert guard
        const auto zero = tryExec(raw, insertLive(raw, "acme", "r5", 0, 3));
        CHECK(contains(zero, "CHECK constraint failed"));
        const auto huge = tryExec(raw, insertLive(raw, "acme", "r6", 1'000'000, 3));
        CHECK(contains(huge, "client_limit_reached"));

        // Inside an explicit transaction: still refused, and the commit holds only what fit.
        raw.exec("BEGIN IMMEDIATE");
        CHECK(tryExec(raw, insertLive(raw, "acme", "r7", 3, 3)) != "");
        CHECK(tryExec(raw, insertLive(raw, "acme", "r8", 2, 3)) != "");
        raw.exec("COMMIT");
        CHECK(liveOf(raw, "acme") == 2);

        // Every slot number 1..10 tried once more: nothing gets in.
        for (int slot = 1; slot <= 10; ++slot) {
            CHECK(tryExec(raw, insertLive(raw, "acme", "x" + std::to_string(slot), slot, 3)) != "");
        }
        CHECK(liveOf(raw, "acme") == 2);

        // The engine, writing beside the shell, sees the client as full.
        auto r = f.t.admission->admit(test::admitReq("acme", "engine-1"));
        CHECK(r.outcome == db::AdmitResult::Outcome::refused);
        CHECK(r.refusal == db::Refusal::client_limit_reached);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("raw INSERTs cannot commit more live calls than the global limit") {
        GuardFixture f;  // global limit 4
        auto& raw = f.raw;
        CHECK(tryExec(raw, insertLive(raw, "acme", "a1", 1, 1)) == "");
        CHECK(tryExec(raw, insertLive(raw, "acme", "a2", 2, 2)) == "");
        CHECK(tryExec(raw, insertLive(raw, "beta", "b1", 1, 3)) == "");
        CHECK(tryExec(raw, insertLive(raw, "beta", "b2", 2, 4)) == "");
        CHECK(scalar(raw, "SELECT global_active FROM settings") == 4);

        const auto above = tryExec(raw, insertLive(raw, "beta", "b3", 3, 5));
        CHECK(contains(above, "global_limit_reached"));
        const auto dup = tryExec(raw, insertLive(raw, "beta", "b4", 3, 1));
        CHECK_FALSE(dup.empty());  // the unique live-slot index or the insert guard
        const auto oneSlotOnly = tryExec(raw, insertLive(raw, "beta", "b5", 3, std::nullopt));
        CHECK(contains(oneSlotOnly, "CHECK constraint failed"));
        for (int g = 1; g <= 8; ++g) {
            CHECK(tryExec(raw, insertLive(raw, "beta", "g" + std::to_string(g), 3, g)) != "");
        }
        CHECK(liveAll(raw) == 4);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("with foreign keys off (the sqlite3 shell's default) the global limit still holds") {
        // An operator's shell does not run PRAGMA foreign_keys = ON, so a call
        // can name a client that does not exist. It must still not take a
        // global slot above the global limit.
        GuardFixture f;  // global limit 4
        SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE, 5000);
        REQUIRE(scalar(shell, "PRAGMA foreign_keys") == 0);
        CHECK(tryExec(shell, insertLive(shell, "acme", "a1", 1, 1)) == "");
        CHECK(tryExec(shell, insertLive(shell, "beta", "b1", 1, 2)) == "");
        CHECK(tryExec(shell, insertLive(shell, "beta", "b2", 2, 3)) == "");
        CHECK(tryExec(shell, insertLive(shell, "beta", "b3", 3, 4)) == "");
        for (int g = 5; g <= 8; ++g) {
            CAPTURE(g);
            CHECK(tryExec(shell, insertLive(shell, "no-such-client", "ghost" + std::to_string(g), 1,
                                            g)) != "");
        }
        CHECK(
            scalar(
                shell,
                "SELECT count(*) FROM calls WHERE ended_at IS NULL AND global_slot IS NOT NULL") <=
            4);
    }

    TEST_CASE("a live call of an enforce-mode client must hold a slot; observe mode may not") {
        GuardFixture f;
        auto& raw = f.raw;
        const auto unslotted =
            tryExec(raw, insertLive(raw, "acme", "n1", std::nullopt, std::nullopt));
        CHECK(contains(unslotted, "must hold a slot"));
        CHECK(scalar(raw, "SELECT count(*) FROM calls") == 0);

        // Positive control: an observe-mode client's call may go without a slot.
        raw.exec("UPDATE clients SET mode = 'observe' WHERE id = 'beta'");
        CHECK(tryExec(raw, insertLive(raw, "beta", "n2", std::nullopt, std::nullopt)) == "");
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'beta'") == 0);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a disabled client cannot take a slot") {
        GuardFixture f;
        auto& raw = f.raw;
        raw.exec("UPDATE clients SET enabled = 0 WHERE id = 'acme'");
        const auto msg = tryExec(raw, insertLive(raw, "acme", "d1", 1, 1));
        CHECK(contains(msg, "client_disabled"));
        CHECK(liveOf(raw, "acme") == 0);
    }

    TEST_CASE("a terminal call cannot be reopened and a call never moves backward") {
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "t1", 1, 1, "in_progress")) == "");
        const int64_t id = scalar(raw, "SELECT id FROM calls WHERE external_id = 't1'");
        const std::string where = " WHERE id = " + std::to_string(id);

        // Backward while live.
        CHECK(contains(tryExec(raw, "UPDATE calls SET state = 'ringing'" + where), "forward only"));
        CHECK(
            contains(tryExec(raw, "UPDATE calls SET state = 'reserved'" + where), "forward only"));
        CHECK(scalarText(raw, "SELECT state FROM calls" + where) == "in_progress");

        // Ending by hand is allowed, and releases the slot once.
        CHECK(tryExec(raw, "UPDATE calls SET state = 'completed', ended_at = 5, expires_at = NULL" +
                               where) == "");
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 0);
        CHECK(scalar(raw, "SELECT global_active FROM settings") == 0);

        // Reopen, in every way a shell user might try.
        CHECK(
            tryExec(raw, "UPDATE calls SET state = 'in_progress', ended_at = NULL, expires_at = " +
                             std::to_string(kFarFuture) + where) != "");
        CHECK(tryExec(raw, "UPDATE calls SET ended_at = NULL, expires_at = " +
                               std::to_string(kFarFuture) + where) != "");
        CHECK(tryExec(raw, "UPDATE calls SET state = 'reserved'" + where) != "");
        // Terminal is final: not even another terminal state.
        CHECK(contains(tryExec(raw, "UPDATE calls SET state = 'busy'" + where),
                       "terminal state is final"));
        CHECK(scalarText(raw, "SELECT state FROM calls" + where) == "completed");
        CHECK(scalar(raw, "SELECT ended_at IS NOT NULL FROM calls" + where) == 1);
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 0);

        // The same for a call the engine admitted and ended.
        auto r = f.t.admission->admit(test::admitReq("acme", "engine-1"));
        REQUIRE(r.call);
        f.t.lifecycle->end(test::endReq(r.call->id));
        CHECK(tryExec(raw,
                      "UPDATE calls SET state = 'reserved', ended_at = NULL, expires_at = 1 "
                      "WHERE id = " +
                          std::to_string(r.call->id)) != "");
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a live call cannot be deleted") {
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "del1", 1, 1)) == "");
        CHECK(contains(tryExec(raw, "DELETE FROM calls WHERE external_id = 'del1'"),
                       "live call cannot be deleted"));
        CHECK(contains(tryExec(raw, "DELETE FROM calls"), "live call cannot be deleted"));
        CHECK(liveOf(raw, "acme") == 1);
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 1);

        // Ended, it may go only once it is older than the retention (v4),
        // counted from the newest call's creation.
        raw.exec(
            "UPDATE calls SET state = 'canceled', ended_at = 1, expires_at = NULL WHERE "
            "external_id = "
            "'del1'");
        CHECK(contains(tryExec(raw, "DELETE FROM calls WHERE external_id = 'del1'"),
                       "retention_hours"));
        raw.exec("UPDATE settings SET retention_hours = 1");
        REQUIRE(tryExec(raw,
                        "INSERT INTO calls (client_id, external_id, state, created_at, "
                        "admitted_at, updated_at, ended_at) SELECT 'acme', 'later', 'completed', "
                        "max(updated_at) + 3600001, max(updated_at) + 3600001, "
                        "max(updated_at) + 3600001, max(updated_at) + 3600001 FROM calls") == "");
        CHECK(tryExec(raw, "DELETE FROM calls WHERE external_id = 'del1'") == "");
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("INSERT OR REPLACE cannot remove a live call") {
        // REPLACE conflict resolution deletes the conflicting row without
        // running DELETE triggers (recursive_triggers is off by default), so
        // calls_no_delete_live does not see it: the BEFORE INSERT guard must.
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "keep1", 1, 1)) == "");
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "keep2", 2, 2)) == "");

        SUBCASE("conflict on the live client slot") {
            tryExec(raw, "INSERT OR REPLACE" + insertLive(raw, "acme", "intruder", 1, 3).substr(6));
        }
        SUBCASE("conflict on (client_id, external_id)") {
            tryExec(raw, "INSERT OR REPLACE" + insertLive(raw, "acme", "keep2", 2, 3).substr(6));
        }
        SUBCASE("conflict on the live global slot") {
            tryExec(raw, "INSERT OR REPLACE" + insertLive(raw, "beta", "intruder", 1, 2).substr(6));
        }
        // Both original live calls are still there, and the counters agree.
        CHECK(scalar(raw,
                     "SELECT count(*) FROM calls WHERE external_id IN ('keep1', 'keep2') "
                     "AND ended_at IS NULL") == 2);
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == liveOf(raw, "acme"));
        CHECK(scalar(raw, "SELECT global_active FROM settings") == liveAll(raw));
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("call_events is append-only") {
        GuardFixture f;
        auto r = f.t.admission->admit(test::admitReq("acme", "ev1"));
        REQUIRE(r.call);
        auto& raw = f.raw;
        const int64_t before = scalar(raw, "SELECT count(*) FROM call_events");
        REQUIRE(before >= 1);
        CHECK(contains(tryExec(raw, "UPDATE call_events SET outcome = 'refused'"), "append-only"));
        CHECK(contains(tryExec(raw, "UPDATE call_events SET reason = 'edited' WHERE id = 1"),
                       "append-only"));
        CHECK(contains(tryExec(raw, "DELETE FROM call_events"), "append-only"));
        CHECK(scalar(raw, "SELECT count(*) FROM call_events") == before);
        CHECK(scalarText(raw, "SELECT outcome FROM call_events WHERE id = 1") == "admitted");
    }

    TEST_CASE("a call's slots, client and external id never change") {
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "im1", 1, 1)) == "");
        const std::string where = " WHERE external_id = 'im1'";
        for (const char* set :
             {"client_slot = 2", "global_slot = 3", "client_slot = NULL, global_slot = NULL",
              "client_id = 'beta'", "external_id = 'im2'"}) {
            CAPTURE(set);
            CHECK(contains(tryExec(raw, std::string("UPDATE calls SET ") + set + where),
                           "never change"));
        }
        CHECK(scalar(raw, "SELECT client_slot FROM calls" + where) == 1);
        CHECK(scalar(raw, "SELECT global_slot FROM calls" + where) == 1);

        // An observe-mode call without a slot cannot take one afterwards.
        raw.exec("UPDATE clients SET mode = 'observe' WHERE id = 'beta'");
        REQUIRE(tryExec(raw, insertLive(raw, "beta", "obs1", std::nullopt, std::nullopt)) == "");
        CHECK(contains(tryExec(raw,
                               "UPDATE calls SET client_slot = 1, global_slot = 4 WHERE "
                               "external_id = 'obs1'"),
                       "never change"));
        CHECK(scalar(raw, "SELECT active FROM clients WHERE id = 'beta'") == 0);
    }

    TEST_CASE("a call's id never changes: UPDATE OR REPLACE on id cannot remove a live call") {
        // Changing calls.id orphans the call's history, and UPDATE OR REPLACE
        // onto another call's id deletes that call without running DELETE
        // triggers (recursive_triggers is off by default).
        GuardFixture f;
        auto first = f.t.admission->admit(test::admitReq("acme", "first"));
        auto second = f.t.admission->admit(test::admitReq("acme", "second"));
        REQUIRE(first.call);
        REQUIRE(second.call);
        SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE, 5000);  // foreign keys off
        const std::string a = std::to_string(first.call->id), b = std::to_string(second.call->id);

        SUBCASE("onto another live call's id") {
            CHECK(tryExec(shell, "UPDATE OR REPLACE calls SET id = " + a + " WHERE id = " + b) !=
                  "");
        }
        SUBCASE("to a fresh id") {
            CHECK(tryExec(shell, "UPDATE calls SET id = 1000 WHERE id = " + b) != "");
        }
        CHECK(scalar(shell, "SELECT count(*) FROM calls WHERE ended_at IS NULL AND id IN (" + a +
                                ", " + b + ")") == 2);
        CHECK(scalar(shell, "SELECT active FROM clients WHERE id = 'acme'") ==
              liveOf(shell, "acme"));
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("lowering a limit keeps the calls already live and admits none above it") {
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "l1", 1, 1)) == "");
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "l2", 2, 2)) == "");
        CHECK(tryExec(raw, "UPDATE clients SET max_concurrent = 1 WHERE id = 'acme'") == "");
        CHECK(liveOf(raw, "acme") == 2);  // LIFECYCLE.md: lowering never drops live calls
        CHECK(tryExec(raw, insertLive(raw, "acme", "l3", 1, 3)) != "");
        CHECK(tryExec(raw, insertLive(raw, "acme", "l4", 2, 3)) != "");
        CHECK(liveOf(raw, "acme") == 2);

        CHECK(tryExec(raw, "UPDATE settings SET global_limit = 1") == "");
        CHECK(liveAll(raw) == 2);
        CHECK(tryExec(raw, insertLive(raw, "beta", "l5", 1, 3)) != "");
        CHECK(liveAll(raw) == 2);
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("provider_call_id guard") {
    TEST_CASE("a shell can bind a provider_call_id once, never move it, never take another's") {
        GuardFixture f;
        auto& raw = f.raw;
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "a", 1, 1)) == "");
        REQUIRE(tryExec(raw, insertLive(raw, "acme", "b", 2, 2)) == "");
        const std::string a =
            std::to_string(scalar(raw, "SELECT id FROM calls WHERE external_id = 'a'"));
        const std::string b =
            std::to_string(scalar(raw, "SELECT id FROM calls WHERE external_id = 'b'"));
        CHECK(tryExec(raw, "UPDATE calls SET provider_call_id = 'CA1' WHERE id = " + a) == "");
        CHECK(tryExec(raw, "UPDATE calls SET provider_call_id = 'CA1' WHERE id = " + a) == "");
        CHECK(tryExec(raw, "UPDATE calls SET provider_call_id = 'CA2' WHERE id = " + a) != "");
        CHECK(tryExec(raw, "UPDATE calls SET provider_call_id = NULL WHERE id = " + a) != "");
        // REPLACE onto another call's id would delete that call.
        CHECK(tryExec(raw, "UPDATE OR REPLACE calls SET provider_call_id = 'CA1' WHERE id = " +
                               b) != "");
        CHECK(tryExec(raw,
                      "INSERT OR REPLACE INTO calls (client_id, external_id, state, "
                      "created_at, updated_at, ended_at, admitted_at, provider_call_id) "
                      "VALUES ('beta', 'x', 'completed', 1, 1, 1, 1, 'CA1')") != "");
        CHECK(tryExec(raw, "UPDATE calls SET provider_call_id = 'bad sid' WHERE id = " + b) != "");
        CHECK(scalar(raw, "SELECT count(*) FROM calls") == 2);
        CHECK(scalarText(raw, "SELECT provider_call_id FROM calls WHERE id = " + a) == "CA1");
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("migrations") {
    TEST_CASE("migrate creates a fresh database and is a no-op the second time") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("m.db");
        const auto first = db::Database::migrate(o);
        CHECK(first.created);
        CHECK(first.fromVersion == 0);
        CHECK(first.toVersion == db::kSchemaVersion);

        const auto second = db::Database::migrate(o);
        CHECK_FALSE(second.created);
        CHECK(second.fromVersion == db::kSchemaVersion);
        CHECK(second.toVersion == db::kSchemaVersion);

        // And the result opens.
        db::Database opened(o);
        CHECK(opened.readers().read([](db::Connection& c) {
            return db::SchemaMigrator::version(c);
        }) == db::kSchemaVersion);
    }

    TEST_CASE("upgrading a database from every older version gives the schema a fresh one has") {
        // db/storage/Migrations: schema.sql is the whole current schema; each older
        // version N needs tests/schemas/vN.sql (schema.sql as released at N)
        // so that its upgrade path is checked here.
        test::TempDir dir;
        db::DatabaseOptions fresh;
        fresh.path = dir.file("fresh.db");
        db::Database::migrate(fresh);
        SQLite::Database freshDb(fresh.path, SQLite::OPEN_READONLY);
        const auto shape = [](SQLite::Database& d) {
            // Tables with their columns, plus the names of indexes, triggers and views.
            SQLite::Statement s(
                d,
                "SELECT m.type || ' ' || m.name || coalesce(' (' || (SELECT "
                "group_concat(p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' || "
                "coalesce(p.dflt_value, '-') || ' ' || p.pk, ', ') FROM pragma_table_info(m.name) "
                "p) "
                "|| ')', '') FROM sqlite_schema m WHERE m.type <> 'table' OR m.name NOT LIKE "
                "'sqlite_%' ORDER BY m.type, m.name");
            std::string out;
            while (s.executeStep()) out += s.getColumn(0).getString() + "\n";
            return out;
        };
        const std::string expected = shape(freshDb);
        CHECK(contains(expected, "table calls ("));
        // And each trigger's and index's definition, whitespace aside: a
        // migration step must recreate exactly what schema.sql says.
        const auto definitions = [](SQLite::Database& d) {
            SQLite::Statement s(d,
                                "SELECT type, name, sql FROM sqlite_schema WHERE type IN "
                                "('trigger', 'index') AND sql IS NOT NULL ORDER BY type, name");
            std::string out;
            while (s.executeStep()) {
                std::string sql = s.getColumn(2).getString(), flat;
                for (char ch : sql) {
                    const bool space = ch == ' ' || ch == '\n' || ch == '\t';
                    if (space && (flat.empty() || flat.back() == ' ')) continue;
                    flat.push_back(space ? ' ' : ch);
                }
                out += s.getColumn(0).getString() + " " + s.getColumn(1).getString() + ": " + flat +
                       "\n";
            }
            return out;
        };
        const std::string expectedDefinitions = definitions(freshDb);

        for (int version = 1; version < db::kSchemaVersion; ++version) {
            CAPTURE(version);
            const std::string fixture = std::string(CALLTRACK_SOURCE_DIR) + "/tests/schemas/v" +
                                        std::to_string(version) + ".sql";
            const std::string text = readFile(fixture);
            REQUIRE_MESSAGE(!text.empty(), "missing fixture " << fixture);
            db::DatabaseOptions old;
            old.path = dir.file("v" + std::to_string(version) + ".db");
            {
                SQLite::Database raw(old.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
                raw.exec(text);
                REQUIRE(scalar(raw, "PRAGMA user_version") == version);
            }
            const auto r = db::Database::migrate(old);
            CHECK(r.fromVersion == version);
            CHECK(r.toVersion == db::kSchemaVersion);
            SQLite::Database upgraded(old.path, SQLite::OPEN_READONLY);
            CHECK(shape(upgraded) == expected);
            CHECK(definitions(upgraded) == expectedDefinitions);
        }
    }

    TEST_CASE("v3 -> v4 gives live bot calls their capacity slots and keeps counters") {
        test::TempDir dir;
        db::DatabaseOptions old;
        old.path = dir.file("v3.db");
        {
            SQLite::Database raw(old.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            raw.exec(readFile(std::string(CALLTRACK_SOURCE_DIR) + "/tests/schemas/v3.sql"));
            raw.exec(
                "INSERT INTO clients (id, name, max_concurrent, bots_required, created_at, "
                "updated_at) VALUES ('acme', 'Acme', 5, 1, 1, 1);"
                "INSERT INTO bots (id, client_id, warmup_url, capacity, state, idle_until, "
                "state_changed_at, created_at, updated_at) VALUES ('b1', 'acme', "
                "'http://127.0.0.1:9/w', 3, 'ready', 9000000000000, 1, 1, 1);");
            for (int i = 1; i <= 2; ++i) {
                raw.exec(
                    "INSERT INTO calls (client_id, external_id, state, client_slot, "
                    "global_slot, created_at, admitted_at, updated_at, expires_at, bot_id) "
                    "VALUES ('acme', 'e" +
                    std::to_string(i) + "', 'reserved', " + std::to_string(i) + ", " +
                    std::to_string(i) + ", 2, 2, 2, 9000000000000, 'b1')");
            }
            REQUIRE(scalar(raw, "SELECT active_calls FROM bots") == 2);
        }
        REQUIRE(db::Database::migrate(old).toVersion == db::kSchemaVersion);
        SQLite::Database raw(old.path, SQLite::OPEN_READWRITE);
        CHECK(scalar(raw,
                     "SELECT group_concat(bot_slot, '') FROM (SELECT bot_slot FROM calls ORDER "
                     "BY id)") == 12);
        CHECK(scalar(raw, "SELECT active FROM clients") == 2);
        CHECK(scalar(raw, "SELECT retention_hours FROM settings") == 720);
        // The third slot is free; a second call in slot 2 is refused.
        CHECK(contains(tryExec(raw,
                               "INSERT INTO calls (client_id, external_id, state, client_slot, "
                               "global_slot, created_at, admitted_at, updated_at, expires_at, "
                               "bot_id, bot_slot) VALUES ('acme', 'e3', 'reserved', 3, 3, 3, 3, 3, "
                               "9000000000000, 'b1', 2)"),
                       "bot slot is held"));
        CHECK(tryExec(raw,
                      "INSERT INTO calls (client_id, external_id, state, client_slot, "
                      "global_slot, created_at, admitted_at, updated_at, expires_at, bot_id, "
                      "bot_slot) VALUES ('acme', 'e3', 'reserved', 3, 3, 3, 3, 3, 9000000000000, "
                      "'b1', 3)") == "");
    }

    TEST_CASE("v2 -> v3 keeps Twilio credentials (now per account) and event ids") {
        test::TempDir dir;
        db::DatabaseOptions old;
        old.path = dir.file("v2.db");
        {
            SQLite::Database raw(old.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            raw.exec(readFile(std::string(CALLTRACK_SOURCE_DIR) + "/tests/schemas/v2.sql"));
            raw.exec(
                "INSERT INTO clients (id, name, max_concurrent, created_at, updated_at) "
                "VALUES ('acme', 'acme', 2, 1, 1)");
            raw.exec(
                "INSERT INTO client_credentials (client_id, twilio_account_sid, "
                "twilio_auth_token, webhook_secret, updated_at) VALUES ('acme', 'AC1', "
                "'tok', 'whsec_abc', 1)");
            raw.exec(
                "INSERT INTO call_events (at, client_id, kind, outcome, source, "
                "idempotency_key) VALUES (1, 'acme', 'status', 'unknown_call', 'api', 'evt-1')");
        }
        CHECK(db::Database::migrate(old).toVersion == db::kSchemaVersion);
        db::Database opened(old);
        const auto account = opened.readers().read(
            [](db::Connection& c) { return db::WebhookCredentials::twilioAccount(c, "AC1"); });
        REQUIRE(account);
        CHECK(account->authToken == "tok");
        CHECK(account->clientIds == std::vector<std::string>{"acme"});
        CHECK(opened.readers().read([](db::Connection& c) {
            return db::WebhookCredentials::webhookSecret(c, "acme");
        }) == std::optional<std::string>("whsec_abc"));
        SQLite::Database raw(old.path, SQLite::OPEN_READWRITE);
        // The account may now be shared; the event id stays unique per client and source.
        raw.exec(
            "INSERT INTO clients (id, name, max_concurrent, created_at, updated_at) VALUES "
            "('beta', 'beta', 2, 1, 1)");
        CHECK(tryExec(raw,
                      "INSERT INTO client_credentials (client_id, twilio_account_sid, "
                      "twilio_auth_token, updated_at) VALUES ('beta', 'AC1', 'tok', 1)") == "");
        CHECK(tryExec(raw,
                      "INSERT INTO call_events (at, client_id, kind, outcome, source, "
                      "idempotency_key) VALUES (1, 'acme', 'status', 'applied', 'api', "
                      "'evt-1')") != "");
        CHECK(tryExec(raw,
                      "INSERT INTO call_events (at, client_id, kind, outcome, source, "
                      "idempotency_key) VALUES (1, 'beta', 'status', 'applied', 'api', "
                      "'evt-1')") == "");
    }

    TEST_CASE("a database written by a newer calltrack is refused, by open and by migrate") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("new.db");
        db::Database::migrate(o);
        {
            SQLite::Database raw(o.path, SQLite::OPEN_READWRITE);
            raw.exec("PRAGMA user_version = " + std::to_string(db::kSchemaVersion + 98));
        }
        for (bool create : {false, true}) {
            CAPTURE(create);
            o.createIfMissing = create;
            const auto opened = test::thrownBy([&] { db::Database d(o); });
            CHECK(opened.code == db::ErrorCode::schema_too_new);
            CHECK(contains(opened.message, "newer than this calltrack"));
        }
        const auto migrated = test::thrownBy([&] { db::Database::migrate(o); });
        CHECK(migrated.code == db::ErrorCode::schema_too_new);
        CHECK(contains(migrated.message, "newer than this calltrack"));

        SQLite::Database raw(o.path, SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "PRAGMA user_version") == db::kSchemaVersion + 98);
    }

    TEST_CASE("a database that is not calltrack's is refused and left untouched") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("other.db");
        {
            SQLite::Database raw(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            raw.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)");
            raw.exec("INSERT INTO invoices (amount) VALUES (42)");
        }
        const auto migrated = test::thrownBy([&] { db::Database::migrate(o); });
        CHECK(migrated.code.has_value());
        CHECK(contains(migrated.message, "refusing to touch it"));

        const auto opened = test::thrownBy([&] { db::Database d(o); });
        CHECK(opened.code.has_value());
        o.createIfMissing = true;
        const auto created = test::thrownBy([&] { db::Database d(o); });
        CHECK(created.code.has_value());

        SQLite::Database raw(o.path, SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'calls'") == 0);
        CHECK(scalar(raw, "SELECT amount FROM invoices") == 42);
        CHECK(scalar(raw, "PRAGMA user_version") == 0);
    }

    TEST_CASE("an empty database file needs migrate before it opens") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("empty.db");
        { SQLite::Database raw(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); }
        const auto opened = test::thrownBy([&] { db::Database d(o); });
        CHECK(opened.code == db::ErrorCode::schema_too_old);
        CHECK(contains(opened.message, "migrate"));
    }

    TEST_CASE("opening a missing file without createIfMissing is no_database and creates nothing") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("missing.db");
        const auto opened = test::thrownBy([&] { db::Database d(o); });
        CHECK(opened.code == db::ErrorCode::no_database);
        CHECK_FALSE(std::filesystem::exists(o.path));
    }

    TEST_CASE("migrate waits out another writer's lock on a new file instead of failing at once") {
        // The deterministic form of the race below: while another connection
        // holds the write lock of a file that is not in WAL mode yet (as a
        // second process does in the middle of its own migrate), migrate must
        // wait up to its busy timeout, like every other writer.
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("locked.db");
        o.busyTimeoutMs = 10'000;
        SQLite::Database holder(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        holder.exec("BEGIN IMMEDIATE");
        std::thread releaser([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            holder.exec("COMMIT");
        });
        const auto migrated = test::thrownBy([&] {
            const auto r = db::Database::migrate(o);
            CHECK(r.created);
        });
        releaser.join();
        INFO(migrated.message);
        CHECK_FALSE(migrated.code.has_value());
        CHECK_FALSE(migrated.other);
        SQLite::Database raw(o.path, SQLite::OPEN_READONLY);
        CHECK(scalar(raw, "PRAGMA user_version") == db::kSchemaVersion);
    }

    TEST_CASE(
        "two threads racing to migrate the same new file both succeed; the schema is created "
        "once") {
        // Reference: the objects a fresh schema has.
        test::TempDir dir;
        int64_t expectedObjects = 0;
        {
            db::DatabaseOptions ref;
            ref.path = dir.file("ref.db");
            db::Database::migrate(ref);
            SQLite::Database raw(ref.path, SQLite::OPEN_READONLY);
            expectedObjects = scalar(raw, "SELECT count(*) FROM sqlite_schema");
        }
        REQUIRE(expectedObjects > 10);

        for (int round = 0; round < 40; ++round) {
            CAPTURE(round);
            db::DatabaseOptions o;
            o.path = dir.file("race" + std::to_string(round) + ".db");
            std::latch start(2);
            db::MigrationResult results[2];
            test::Thrown errors[2];
            std::thread threads[2];
            for (int i = 0; i < 2; ++i) {
                threads[i] = std::thread([&, i] {
                    start.arrive_and_wait();
                    errors[i] = test::thrownBy([&] { results[i] = db::Database::migrate(o); });
                });
            }
            for (auto& th : threads) th.join();
            INFO("thread 0: " << errors[0].message << " / thread 1: " << errors[1].message);
            CHECK_FALSE(errors[0].code.has_value());
            CHECK_FALSE(errors[0].other);
            CHECK_FALSE(errors[1].code.has_value());
            CHECK_FALSE(errors[1].other);
            CHECK(int(results[0].created) + int(results[1].created) == 1);
            CHECK(results[0].toVersion == db::kSchemaVersion);
            CHECK(results[1].toVersion == db::kSchemaVersion);

            SQLite::Database raw(o.path, SQLite::OPEN_READONLY);
            CHECK(scalar(raw, "SELECT count(*) FROM sqlite_schema") == expectedObjects);
            CHECK(scalar(raw, "SELECT count(*) FROM settings") == 1);
        }
    }
}
