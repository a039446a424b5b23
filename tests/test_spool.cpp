// The intake spool on its own (issue 10, section 1): records survive a crash
// as written, a torn or damaged record is skipped and reported without
// losing the good ones, a record is applied once however often it is
// replayed, segments of a process that is gone are adopted and those of a
// live one are not, arrival order holds across segments, the bounds refuse,
// and the database breaker moves as documented. (Through the real server:
// test_database_trouble.)

#include "app/jobs/ProcessHeartbeatJob.h"
#include "db/coordination/ProcessRegistry.h"
#include "db/spool/EventIntake.h"
#include "db/spool/IntakeSpool.h"
#include "db/spool/OfflineAdmissions.h"
#include "db/spool/SpoolFile.h"
#include "db/spool/SpoolLedger.h"
#include "db/storage/DatabaseBreaker.h"
#include "tests/QuietLog.h"
#include "tests/TestSupport.h"

#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <fstream>

using namespace calltrack;
using db::CallState;
using db::IntakeSpool;
using test::TestDatabase;

namespace {

namespace fs = std::filesystem;

struct SpoolFixture {
    SpoolFixture() {
        t.clients->create("acme", test::limitPatch(10));
        for (int i = 0; i < 3; ++i) {
            ids.push_back(
                t.admission->admit(test::admitReq("acme", "c" + std::to_string(i))).call->id);
        }
    }
    std::string directory() const { return db::SpoolOptions::directoryFor(t.options.path); }
    db::SpoolOptions options() const {
        db::SpoolOptions o;
        o.directory = directory();
        return o;
    }
    std::vector<fs::path> segments() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(directory()))
            if (e.path().extension() == ".spool") out.push_back(e.path());
        std::sort(out.begin(), out.end());
        return out;
    }
    db::SpoolRecord record(int64_t callId, CallState status) {
        db::SpoolRecord r;
        r.key = db::SpoolRecord::newKey();
        r.receivedAtMs = t.clock.nowMs();
        r.event = test::statusEvent(callId, status);
        return r;
    }
    int64_t scalar(const std::string& sql) { return test::scalar(t, sql); }
    std::string state(int64_t id) {
        return test::scalarText(t, "SELECT state FROM calls WHERE id = " + std::to_string(id));
    }

    TestDatabase t;
    std::vector<int64_t> ids;
};

std::string readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void writeAll(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("records encode and decode unchanged; anything else is refused") {
    db::SpoolRecord r;
    r.key = db::SpoolRecord::newKey();
    r.receivedAtMs = 1234;
    db::TwilioEvent t;
    t.accountSid = "AC1";
    t.callSid = "CA1";
    t.callId = 7;
    t.status = CallState::in_progress;
    t.sequence = 3;
    t.eventId = "twilio:x";
    r.event = t;
    const auto back = db::SpoolRecord::decode(db::SpoolRecord::encode(r));
    CHECK(back.key == r.key);
    CHECK(back.receivedAtMs == 1234);
    const auto& bt = std::get<db::TwilioEvent>(back.event);
    CHECK(bt.callSid == "CA1");
    CHECK(bt.callId == 7);
    CHECK(bt.status == CallState::in_progress);
    CHECK(bt.sequence == 3);
    CHECK(bt.eventId == "twilio:x");
    CHECK(r.key.size() == 32);
    CHECK(db::SpoolRecord::newKey() != r.key);
    for (const char* bad : {"", "{}", "[1]", "{\"v\":2}", "not json",
                            R"({"v":1,"key":"k","received_at":1,"kind":"nope"})",
                            R"({"v":1,"key":"k","received_at":1,"kind":"status","status":"x"})"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(db::SpoolRecord::decode(bad), db::EngineError);
    }
}

TEST_CASE("frames: a torn tail is reported, a damaged frame skipped, the good ones kept") {
    namespace SF = db::SpoolFile;
    const std::string a = SF::frame("first"), b = SF::frame("second"), c = SF::frame("third");
    auto scan = SF::scan(a + b + c, 0, true, 100);
    REQUIRE(scan.frames.size() == 3);
    CHECK(scan.frames[2].payload == "third");
    CHECK(scan.end == a.size() + b.size() + c.size());

    // Torn: the last frame cut anywhere.
    for (size_t cut = 1; cut < c.size(); ++cut) {
        scan = SF::scan(a + b + c.substr(0, cut), 0, true, 100);
        CHECK(scan.frames.size() == 2);
        CHECK(scan.tornTailBytes == cut);
        CHECK(scan.corruptRegions == 0);
        // Not at the end of the file: just cut by the read, no damage.
        scan = SF::scan(a + b + c.substr(0, cut), 0, false, 100);
        CHECK(scan.frames.size() == 2);
        CHECK(scan.end == a.size() + b.size());
    }
    // Damaged in the middle, any byte: the frames after it are kept.
    for (size_t at = 0; at < b.size(); ++at) {
        std::string damaged = a + b + c;
        damaged[a.size() + at] ^= 0x5a;
        scan = SF::scan(damaged, 0, true, 100);
        REQUIRE(scan.frames.size() == 2);
        CHECK(scan.frames[0].payload == "first");
        CHECK(scan.frames[1].payload == "third");
        CHECK(scan.corruptRegions == 1);
    }
}

TEST_CASE("a crashed writer's segment is adopted: a torn last record is skipped, reported") {
    SpoolFixture f;
    {
        IntakeSpool spool(f.options(), f.t.clock);
        spool.append(f.record(f.ids[0], CallState::ringing));
        spool.append(f.record(f.ids[1], CallState::ringing));
        spool.append(f.record(f.ids[2], CallState::ringing));
        CHECK(spool.stats().pendingRecords == 3);
    }  // the process is gone (its flock with it)
    const auto segs = f.segments();
    REQUIRE(segs.size() == 1);
    const std::string bytes = readAll(segs[0]);
    writeAll(segs[0], bytes.substr(0, bytes.size() - 7));  // the last write torn by the crash

    IntakeSpool next(f.options(), f.t.clock);
    CHECK(next.scan() == 1);
    CHECK(next.stats().pendingRecords == 2);
    CHECK(next.stats().tornTails == 1);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, next);
    const auto r = intake.drain([] { return true; }, std::chrono::seconds(5));
    CHECK(r.applied == 2);
    CHECK_FALSE(r.blocked);
    CHECK(f.state(f.ids[0]) == "ringing");
    CHECK(f.state(f.ids[1]) == "ringing");
    CHECK(f.state(f.ids[2]) == "reserved");  // its record was never acknowledged
    CHECK(next.stats().pendingRecords == 0);
    CHECK(f.segments().empty());  // drained and removed
}

TEST_CASE("a damaged record in the middle is skipped; the records after it are applied") {
    SpoolFixture f;
    {
        IntakeSpool spool(f.options(), f.t.clock);
        for (int i = 0; i < 3; ++i)
            spool.append(f.record(f.ids[static_cast<size_t>(i)], CallState::ringing));
    }
    const auto segs = f.segments();
    REQUIRE(segs.size() == 1);
    std::string bytes = readAll(segs[0]);
    const auto third = bytes.size() / 3;
    bytes[third + third / 2] ^= 0x20;  // inside the second record
    writeAll(segs[0], bytes);
    IntakeSpool next(f.options(), f.t.clock);
    REQUIRE(next.scan() == 1);
    CHECK(next.stats().corruptRegions == 1);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, next);
    CHECK(intake.drain([] { return true; }, std::chrono::seconds(5)).applied == 2);
    CHECK(f.state(f.ids[0]) == "ringing");
    CHECK(f.state(f.ids[1]) == "reserved");
    CHECK(f.state(f.ids[2]) == "ringing");
}

TEST_CASE(
    "replaying a segment again (a crash after the commit, before its removal) applies "
    "nothing twice") {
    SpoolFixture f;
    {
        IntakeSpool spool(f.options(), f.t.clock);
        spool.append(f.record(f.ids[0], CallState::in_progress));
        db::EndRequest end = test::endReq(f.ids[0]);
        db::SpoolRecord r;
        r.key = db::SpoolRecord::newKey();
        r.receivedAtMs = f.t.clock.nowMs();
        r.event = end;
        spool.append(r);
        db::SpoolRecord hb;
        hb.key = db::SpoolRecord::newKey();
        hb.receivedAtMs = f.t.clock.nowMs();
        hb.event = db::HeartbeatRequest{db::CallRef::byId(f.ids[1]), "api"};
        spool.append(hb);
    }
    const auto seg = f.segments().at(0);
    const std::string copy = readAll(seg);
    {
        IntakeSpool spool(f.options(), f.t.clock);
        REQUIRE(spool.scan() == 1);
        db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
        const auto r = intake.drain([] { return true; }, std::chrono::seconds(5));
        CHECK(r.applied == 3);
    }
    CHECK(f.state(f.ids[0]) == "completed");
    const auto events = f.scalar("SELECT count(*) FROM call_events");
    const auto heartbeats =
        f.scalar("SELECT heartbeats FROM calls WHERE id = " + std::to_string(f.ids[1]));
    CHECK(f.scalar("SELECT count(*) FROM spool_applied") == 3);
    // The segment comes back as if its removal never happened.
    writeAll(seg, copy);
    IntakeSpool again(f.options(), f.t.clock);
    REQUIRE(again.scan() == 1);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, again);
    const auto r = intake.drain([] { return true; }, std::chrono::seconds(5));
    CHECK(r.applied == 0);
    CHECK(r.alreadyApplied == 3);
    CHECK(f.scalar("SELECT count(*) FROM call_events") == events);
    CHECK(f.scalar("SELECT heartbeats FROM calls WHERE id = " + std::to_string(f.ids[1])) ==
          heartbeats);
    CHECK(f.segments().empty());
    CHECK_INVARIANTS(f.t);
}

TEST_CASE("a live process's segment is not adopted, but it holds new events back") {
    SpoolFixture f;
    IntakeSpool live(f.options(), f.t.clock);
    live.append(f.record(f.ids[0], CallState::ringing));
    IntakeSpool other(f.options(), f.t.clock);
    CHECK(other.scan() == 0);
    CHECK(other.stats().pendingRecords == 0);
    CHECK(other.stats().otherProcessBytes > 0);
    CHECK(other.pendingOnHost());
    // So the other process spools a new event behind it instead of
    // applying it first, although the database is fine.
    db::EventIntake otherIntake(f.t.database->writer(), f.t.clock, other);
    const auto o =
        otherIntake.status(test::statusEvent(f.ids[0], CallState::in_progress), db::noDeadline());
    CHECK(o.spooled);
    CHECK(f.state(f.ids[0]) == "reserved");
    // The live one applies its own; the other then its own: in order.
    db::EventIntake liveIntake(f.t.database->writer(), f.t.clock, live);
    CHECK(liveIntake.drain([] { return true; }, std::chrono::seconds(5)).applied == 1);
    CHECK(otherIntake.drain([] { return true; }, std::chrono::seconds(5)).applied == 1);
    CHECK(f.state(f.ids[0]) == "in_progress");
    other.scan();
    CHECK_FALSE(other.pendingOnHost());
}

TEST_CASE("arrival order holds across the segments of several processes") {
    SpoolFixture f;
    // Two crashed processes whose records for one call interleave in time.
    {
        IntakeSpool p1(f.options(), f.t.clock);
        IntakeSpool p2(f.options(), f.t.clock);
        auto ev = [&](CallState s) {
            f.t.clock.advanceMs(10);
            return f.record(f.ids[0], s);
        };
        p1.append(ev(CallState::initiated));
        p2.append(ev(CallState::ringing));
        p1.append(ev(CallState::in_progress));
        p2.append(ev(CallState::completed));
    }
    IntakeSpool spool(f.options(), f.t.clock);
    CHECK(spool.scan() == 2);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
    const auto r = intake.drain([] { return true; }, std::chrono::seconds(5));
    CHECK(r.applied == 4);
    // Each was applied (none out of order): arrival order across files.
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE call_id = " + std::to_string(f.ids[0]) +
                   " AND outcome = 'applied'") == 4);
    CHECK(f.state(f.ids[0]) == "completed");
}

TEST_CASE(
    "the bounds: size and age refuse new records; an engine refusal is recorded, not "
    "retried") {
    SpoolFixture f;
    auto o = f.options();
    o.maxBytes = 600;
    IntakeSpool spool(o, f.t.clock);
    int taken = 0;
    try {
        for (; taken < 100; ++taken) spool.append(f.record(f.ids[0], CallState::ringing));
    } catch (const db::EngineError& e) {
        CHECK(e.code() == db::ErrorCode::spool_full);
    }
    CHECK(taken > 0);
    CHECK(taken < 100);
    CHECK(spool.stats().refusedFull == 1);
    CHECK(spool.stats().hostBytes <= 600);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
    CHECK(intake.drain([] { return true; }, std::chrono::seconds(5)).total() == taken);
    // Drained, there is room again.
    spool.append(f.record(f.ids[0], CallState::ringing));

    auto aged = f.options();
    aged.maxAgeMs = 60'000;
    IntakeSpool young(aged, f.t.clock);
    young.append(f.record(f.ids[1], CallState::ringing));
    f.t.clock.advanceMs(61'000);
    try {
        young.append(f.record(f.ids[1], CallState::in_progress));
        FAIL("a record past the age bound was taken");
    } catch (const db::EngineError& e) {
        CHECK(e.code() == db::ErrorCode::spool_full);
    }
    // A record the engine refuses (its call is unknown) is recorded with
    // why, and does not block the ones after it.
    IntakeSpool mixed(f.options(), f.t.clock);
    db::SpoolRecord ghost;
    ghost.key = db::SpoolRecord::newKey();
    ghost.receivedAtMs = f.t.clock.nowMs();
    ghost.event = test::endReq(999999);
    mixed.append(ghost);
    mixed.append(f.record(f.ids[2], CallState::ringing));
    db::EventIntake mixedIntake(f.t.database->writer(), f.t.clock, mixed);
    const auto r = mixedIntake.drain([] { return true; }, std::chrono::seconds(5));
    CHECK(r.failed == 1);
    CHECK(r.applied == 1);
    CHECK(test::scalarText(f.t, "SELECT outcome FROM spool_applied WHERE key = '" + ghost.key + "'")
              .rfind("error not_found", 0) == 0);
}

TEST_CASE("ledger keys are purged a week after they were applied, not before") {
    SpoolFixture f;
    IntakeSpool spool(f.options(), f.t.clock);
    db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
    spool.append(f.record(f.ids[0], CallState::ringing));
    REQUIRE(intake.drain([] { return true; }, std::chrono::seconds(5)).applied == 1);
    f.t.clock.advanceMs(db::SpoolLedger::kKeepMs - 1000);
    spool.append(f.record(f.ids[1], CallState::ringing));
    REQUIRE(intake.drain([] { return true; }, std::chrono::seconds(5)).applied == 1);
    CHECK(intake.purgeAppliedKeys(100) == 0);
    f.t.clock.advanceMs(2000);
    CHECK(intake.purgeAppliedKeys(100) == 1);
    CHECK(f.scalar("SELECT count(*) FROM spool_applied") == 1);
}

TEST_CASE("while the database is locked, replay waits and keeps every record") {
    SpoolFixture f;
    IntakeSpool spool(f.options(), f.t.clock);
    spool.append(f.record(f.ids[0], CallState::ringing));
    db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
    SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE);
    // serve writes every second (history, alerts): wait for a gap, as an
    // operator retrying would
    shell.exec("PRAGMA busy_timeout = 5000");
    shell.exec("BEGIN IMMEDIATE");
    const auto blocked =
        intake.replay(10, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    CHECK(blocked.blocked);
    CHECK(blocked.total() == 0);
    CHECK(spool.stats().pendingRecords == 1);
    shell.exec("ROLLBACK");
    // The breaker may be open after the failure: it lets a trial through
    // after its open time; the test's clock is not the breaker's, so poll.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    db::ReplayRound r;
    while (std::chrono::steady_clock::now() < until) {
        r = intake.replay(10, std::chrono::steady_clock::now() + std::chrono::seconds(1));
        if (!r.blocked) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(r.applied == 1);
    CHECK(f.state(f.ids[0]) == "ringing");
}

TEST_CASE("a record of our own damaged on disk is skipped: the spool drains instead of wedging") {
    SpoolFixture f;
    IntakeSpool spool(f.options(), f.t.clock);
    spool.append(f.record(f.ids[0], CallState::ringing));
    spool.append(f.record(f.ids[1], CallState::ringing));
    const auto seg = f.segments().at(0);
    std::string bytes = readAll(seg);
    bytes[bytes.size() - 3] ^= 0x40;  // the last record's payload
    {
        // In place (the spool keeps appending to this file).
        std::fstream out(seg, std::ios::binary | std::ios::in | std::ios::out);
        out.seekp(static_cast<std::streamoff>(bytes.size() - 3));
        out.put(bytes[bytes.size() - 3]);
    }
    db::EventIntake intake(f.t.database->writer(), f.t.clock, spool);
    const auto r = intake.drain([] { return true; }, std::chrono::seconds(5));
    CHECK(r.applied == 1);
    CHECK(r.corrupt == 1);
    CHECK(spool.stats().pendingRecords == 0);
    CHECK_FALSE(spool.pendingOnHost());
    CHECK(f.state(f.ids[1]) == "reserved");
}

TEST_CASE(
    "live processes are counted against the freshest heartbeat, so an outage does not "
    "make each process think it is alone") {
    TestDatabase t;
    db::ProcessRegistry a(t.database->writer(), t.clock, "a", 1);
    db::ProcessRegistry b(t.database->writer(), t.clock, "b", 2);
    a.heartbeat(db::noDeadline());
    b.heartbeat(db::noDeadline());
    const auto live = [&] {
        return t.database->readers().read(
            [&](db::Connection& c) { return db::ProcessRegistry::liveIn(c, t.clock.nowMs()); });
    };
    CHECK(live() == 2);
    t.clock.advanceMs(60'000);  // no heartbeat can be written: both still count
    CHECK(live() == 2);
    a.heartbeat(db::noDeadline());  // writes work again; b has stopped
    CHECK(live() == 1);
    b.leave(db::noDeadline());
    a.leave(db::noDeadline());
    CHECK(live() == 1);  // never below one: the asking process
}

TEST_CASE(
    "ProcessHeartbeatJob: a shell holding the write lock stops the heartbeat row, not the "
    "share snapshot, which is read") {
    TestDatabase t;
    auto patch = test::limitPatch(2);
    patch.onDatabaseUnavailable = db::UnavailablePolicy::admit_within_share;
    t.clients->create("acme", patch);
    test::QuietLog quiet;
    db::ProcessRegistry processes(t.database->writer(), t.clock, "this", 1);
    db::OfflineAdmissions offline;
    app::ProcessHeartbeatJob job(processes, offline, t.database->readers(), t.clock, quiet.log);
    const auto heartbeatAt = [&] {
        return test::scalar(t, "SELECT coalesce(max(heartbeat_at), 0) FROM processes");
    };

    CHECK(job.runOnce());
    CHECK(heartbeatAt() == t.clock.nowMs());
    CHECK(offline.stats().snapshotAtMs == t.clock.nowMs());
    CHECK(offline.stats().liveProcesses == 1);

    auto shell = test::openRaw(t.options.path);
    shell.exec("BEGIN IMMEDIATE");
    t.clock.advanceMs(3000);
    CHECK_FALSE(job.runOnce());  // the heartbeat gave up after its deadline
    CHECK(heartbeatAt() == t.clock.nowMs() - 3000);
    CHECK(offline.stats().snapshotAtMs == t.clock.nowMs());
    // The fresh snapshot is what grants go by: acme's two free slots.
    CHECK(offline.grant("acme", "x") == db::OfflineAdmissions::Grant::granted);
    shell.exec("ROLLBACK");

    CHECK(job.runOnce());
    CHECK(heartbeatAt() == t.clock.nowMs());
}

TEST_CASE("offline grants: within floor(free / processes), 'again' only once spooled") {
    db::OfflineAdmissions o;
    using G = db::OfflineAdmissions::Grant;
    CHECK(o.grant("acme", "x") == G::no_share);  // nothing seen yet
    db::ShareSnapshot s;
    s.atMs = 1;
    s.liveProcesses = 3;
    s.globalFree = 100;
    s.clientFree["acme"] = 7;  // 7 / 3 = 2 each
    o.refresh(s);
    CHECK(o.sharesFor("acme"));
    CHECK_FALSE(o.sharesFor("other"));
    CHECK(o.grant("acme", "x1") == G::granted);
    CHECK(o.grant("acme", "x1") == G::no_share);  // still being spooled
    o.spooled("acme", "x1");
    CHECK(o.grant("acme", "x1") == G::again);
    CHECK(o.grant("acme", "x2") == G::granted);
    CHECK(o.grant("acme", "x3") == G::no_share);  // the share is used
    o.written("acme", "x2");                      // given back (not stored)
    CHECK(o.grant("acme", "x3") == G::granted);
    s.globalFree = 5;  // 5 / 3 = 1 for all clients together
    o.refresh(s);
    CHECK(o.grant("acme", "x4") == G::no_share);
    CHECK(o.stats().waiting == 2);
}

TEST_CASE("the database breaker: opens after failures in a row, one trial when half-open") {
    db::ManualClock clock;
    db::DatabaseBreaker b(clock, {3, 1000});
    std::vector<std::string> changes;
    b.onChange([&](auto from, auto to, const std::string&) {
        changes.push_back(std::string(db::nameOf(from)) + ">" + db::nameOf(to));
    });
    using S = db::DatabaseBreaker::State;
    CHECK(b.allow());
    b.failure("locked");
    b.failure("locked");
    b.success();  // resets the count
    b.failure("locked");
    b.failure("locked");
    CHECK(b.snapshot().state == S::closed);
    b.failure("locked");
    CHECK(b.snapshot().state == S::open);
    CHECK_FALSE(b.allow());
    clock.advanceMs(999);
    CHECK_FALSE(b.allow());
    clock.advanceMs(1);
    CHECK(b.allow());  // the trial
    CHECK(b.snapshot().state == S::half_open);
    CHECK_FALSE(b.allow());  // only one
    b.failure("still locked");
    CHECK(b.snapshot().state == S::open);
    clock.advanceMs(1000);
    CHECK(b.allow());
    clock.advanceMs(1000);  // the trial never reported back: another one
    CHECK(b.allow());
    b.success();
    CHECK(b.snapshot().state == S::closed);
    CHECK(b.allow());
    CHECK(b.snapshot().rejected == 3);
    CHECK(b.snapshot().opened == 2);
    CHECK(changes == std::vector<std::string>{"closed>open", "open>half_open", "half_open>open",
                                              "open>half_open", "half_open>closed"});
}
