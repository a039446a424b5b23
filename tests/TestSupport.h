#pragma once
// Helpers shared by the test files: readable doctest output for the engine's
// enums, capturing EngineError codes, and ad-hoc SQL against a test database.

#include "db/EngineError.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/CallState.h"
#include "db/integrity/InvariantChecker.h"
#include "db/tenants/Client.h"
#include "tests/TestDatabase.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

// doctest prints a value through an unqualified toString(value) call, found by
// argument-dependent lookup; these make failures show names instead of ints.
namespace calltrack::db {
inline doctest::String toString(CallState v) {
    return std::string(nameOf(v)).c_str();
}
inline doctest::String toString(EventOutcome v) {
    return nameOf(v);
}
inline doctest::String toString(Refusal v) {
    return nameOf(v);
}
inline doctest::String toString(ClientMode v) {
    return nameOf(v);
}
inline doctest::String toString(ErrorCode v) {
    return std::string(nameOf(v)).c_str();
}
inline doctest::String toString(const std::optional<ErrorCode>& v) {
    return v ? toString(*v) : doctest::String("(no EngineError)");
}
inline doctest::String toString(AdmitResult::Outcome v) {
    switch (v) {
        case AdmitResult::Outcome::admitted:
            return "admitted";
        case AdmitResult::Outcome::existing:
            return "existing";
        case AdmitResult::Outcome::refused:
            return "refused";
        case AdmitResult::Outcome::already_ended:
            return "already_ended";
    }
    return "?";
}
}  // namespace calltrack::db

namespace calltrack::test {

// What a call threw: the EngineError code and message, or nothing.
struct Thrown {
    std::optional<db::ErrorCode> code{};
    std::string message;
    bool other = false;  // something that is not an EngineError
};

template <class F>
Thrown thrownBy(F&& fn) {
    Thrown t;
    try {
        fn();
    } catch (const db::EngineError& e) {
        t.code = e.code();
        t.message = e.what();
    } catch (const std::exception& e) {
        t.other = true;
        t.message = e.what();
    }
    return t;
}

inline int64_t scalar(SQLite::Database& db, const std::string& sql) {
    SQLite::Statement s(db, sql);
    if (!s.executeStep()) return 0;
    return s.getColumn(0).getInt64();
}

inline std::string scalarText(SQLite::Database& db, const std::string& sql) {
    SQLite::Statement s(db, sql);
    if (!s.executeStep() || s.getColumn(0).isNull()) return "<null>";
    return s.getColumn(0).getString();
}

// Reads through the engine's read pool: a committed snapshot.
inline int64_t scalar(TestDatabase& t, const std::string& sql) {
    return t.database->readers().read([&](db::Connection& c) { return scalar(c.handle(), sql); });
}

inline std::string scalarText(TestDatabase& t, const std::string& sql) {
    return t.database->readers().read(
        [&](db::Connection& c) { return scalarText(c.handle(), sql); });
}

// Live calls that hold a slot, counted in the calls table (not the counters).
inline int64_t liveSlotted(TestDatabase& t, const std::string& clientId) {
    return scalar(t, "SELECT count(*) FROM calls WHERE client_id = '" + clientId +
                         "' AND ended_at IS NULL AND client_slot IS NOT NULL");
}
inline int64_t liveSlotted(TestDatabase& t) {
    return scalar(t,
                  "SELECT count(*) FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL");
}
inline int64_t liveCalls(TestDatabase& t) {
    return scalar(t, "SELECT count(*) FROM calls WHERE ended_at IS NULL");
}
inline int64_t clientActive(TestDatabase& t, const std::string& clientId) {
    return scalar(t, "SELECT active FROM clients WHERE id = '" + clientId + "'");
}
inline int64_t globalActive(TestDatabase& t) {
    return scalar(t, "SELECT global_active FROM settings");
}

inline db::CheckReport check(TestDatabase& t, int64_t graceMs = 5000) {
    return t.database->readers().read(
        [&](db::Connection& c) { return db::InvariantChecker::run(c, t.clock.nowMs(), graceMs); });
}

inline std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// Fails the current test with the violations listed when the checker does.
#define CHECK_INVARIANTS(t)                                  \
    do {                                                     \
        const auto report_ = ::calltrack::test::check(t);    \
        INFO(::calltrack::test::joined(report_.violations)); \
        CHECK(report_.ok());                                 \
    } while (false)

inline db::ClientPatch limitPatch(int64_t limit) {
    db::ClientPatch p;
    p.maxConcurrent = limit;
    return p;
}

inline db::AdmitRequest admitReq(const std::string& client, const std::string& external) {
    db::AdmitRequest r;
    r.clientId = client;
    r.externalId = external;
    return r;
}

inline db::StatusEvent statusEvent(int64_t callId, db::CallState status) {
    db::StatusEvent e;
    e.call = db::CallRef::byId(callId);
    e.status = status;
    return e;
}

inline db::EndRequest endReq(int64_t callId) {
    db::EndRequest r;
    r.call = db::CallRef::byId(callId);
    return r;
}

// A connection like an operator's `sqlite3 calltrack.db` shell, with foreign
// keys switched on.
inline SQLite::Database openRaw(const std::string& path) {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE, 5000);
    raw.exec("PRAGMA foreign_keys = ON");
    return raw;
}

// Runs one statement; returns "" when it committed, else SQLite's message.
inline std::string tryExec(SQLite::Database& raw, const std::string& sql) {
    try {
        raw.exec(sql);
        return "";
    } catch (const SQLite::Exception& e) {
        return e.what();
    }
}

// Call ids known to the workers of a stress test, shared so that threads act
// on each other's calls.
struct KnownCalls {
    explicit KnownCalls(size_t window) : window(window) {}
    const size_t window;  // picks among the newest `window` ids: mostly live calls
    std::mutex mutex;
    std::vector<int64_t> ids;  // guarded by mutex
    void add(int64_t id) {
        std::lock_guard lock(mutex);
        ids.push_back(id);
    }
    std::optional<int64_t> pick(std::mt19937_64& rng) {
        std::lock_guard lock(mutex);
        if (ids.empty()) return std::nullopt;
        const size_t n = std::min(ids.size(), window);
        return ids[ids.size() - 1 - rng() % n];
    }
};

}  // namespace calltrack::test
