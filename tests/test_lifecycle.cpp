// The call lifecycle (LIFECYCLE.md): forward-only state changes, duplicates
// and late events recorded but not applied, the slot released exactly once,
// heartbeats and expiry, explicit ends, optimistic versions, and lookups.

#include "db/calls/CallTable.h"
#include "tests/TestSupport.h"

using namespace calltrack;
using db::CallState;
using db::EventOutcome;
using test::scalar;
using test::scalarText;

namespace {

const CallState kTerminals[] = {CallState::completed, CallState::busy, CallState::failed,
                                CallState::no_answer, CallState::canceled};

struct Fixture {
    Fixture() {
        t.clients->create("acme", test::limitPatch(10));
        t.clients->create("beta", test::limitPatch(10));
    }
    db::Call admit(const std::string& external, const std::string& client = "acme") {
        auto r = t.admission->admit(test::admitReq(client, external));
        REQUIRE(r.outcome == db::AdmitResult::Outcome::admitted);
        return *r.call;
    }
    db::EventResult status(int64_t id, CallState s) {
        return t.lifecycle->applyStatus(test::statusEvent(id, s));
    }
    db::Call stored(int64_t id) {
        return *t.database->readers().read(
            [&](db::Connection& c) { return db::CallTable::findById(c, id); });
    }
    int64_t events(int64_t id, const std::string& where = "1") {
        return scalar(t, "SELECT count(*) FROM call_events WHERE call_id = " + std::to_string(id) +
                             " AND " + where);
    }
    test::TestDatabase t;
};

}  // namespace

TEST_SUITE("forward transitions") {
    TEST_CASE("reserved -> initiated -> ringing -> in_progress -> each terminal state") {
        Fixture f;
        for (const auto terminal : kTerminals) {
            CAPTURE(terminal);
            auto call = f.admit(std::string("F-") + std::string(db::nameOf(terminal)));
            CHECK(call.state == CallState::reserved);
            CHECK(call.version == 1);
            int64_t version = call.version;
            for (const auto next :
                 {CallState::initiated, CallState::ringing, CallState::in_progress, terminal}) {
                CAPTURE(next);
                f.t.clock.advanceMs(1000);
                auto r = f.status(call.id, next);
                CHECK(r.outcome == EventOutcome::applied);
                REQUIRE(r.call);
                CHECK(r.call->state == next);
                CHECK(r.call->version == version + 1);
                version = r.call->version;
                const auto s = f.stored(call.id);
                CHECK(s.state == next);
                CHECK(s.version == version);
            }
            const auto s = f.stored(call.id);
            CHECK_FALSE(s.live());
            CHECK(s.endedAt.has_value());
            CHECK_FALSE(s.expiresAt.has_value());
            CHECK(s.answeredAt.has_value());
            // Every step is in the history with its from and to state.
            CHECK(f.events(call.id, "kind = 'status' AND outcome = 'applied'") == 4);
            CHECK(f.events(
                      call.id,
                      "kind = 'status' AND from_state = 'ringing' AND to_state = 'in_progress'") ==
                  1);
        }
        CHECK(test::clientActive(f.t, "acme") == 0);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("states may be skipped, forward only") {
        Fixture f;
        struct Path {
            std::vector<CallState> steps;
        };
        const Path paths[] = {
            {{CallState::ringing}},
            {{CallState::in_progress, CallState::completed}},
            {{CallState::busy}},
            {{CallState::initiated, CallState::in_progress}},
            {{CallState::initiated, CallState::no_answer}},
            {{CallState::ringing, CallState::failed}},
        };
        int n = 0;
        for (const auto& path : paths) {
            auto call = f.admit("skip" + std::to_string(n++));
            for (const auto step : path.steps) {
                CAPTURE(step);
                auto r = f.status(call.id, step);
                CHECK(r.outcome == EventOutcome::applied);
                CHECK(r.call->state == step);
            }
        }
        // Live at the end: ringing, in_progress (initiated->in_progress).
        CHECK(test::clientActive(f.t, "acme") == 2);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("answering sets answered_at once") {
        Fixture f;
        auto call = f.admit("ans");
        f.t.clock.advanceMs(5000);
        const int64_t answeredAt = f.t.clock.nowMs();
        CHECK(f.status(call.id, CallState::in_progress).call->answeredAt == answeredAt);
        f.t.clock.advanceMs(5000);
        f.t.lifecycle->heartbeat(db::CallRef::byId(call.id));
        CHECK(f.status(call.id, CallState::completed).call->answeredAt == answeredAt);
        CHECK(f.stored(call.id).answeredAt == answeredAt);
    }
}

TEST_SUITE("events that change nothing") {
    TEST_CASE("a backward event is out_of_order: recorded, nothing changes") {
        Fixture f;
        auto call = f.admit("back");
        REQUIRE(f.status(call.id, CallState::in_progress).outcome == EventOutcome::applied);
        const auto before = f.stored(call.id);
        for (const auto earlier : {CallState::initiated, CallState::ringing}) {
            CAPTURE(earlier);
            f.t.clock.advanceMs(1000);
            auto r = f.status(call.id, earlier);
            CHECK(r.outcome == EventOutcome::out_of_order);
            const auto after = f.stored(call.id);
            CHECK(after.state == CallState::in_progress);
            CHECK(after.version == before.version);
            CHECK(after.expiresAt == before.expiresAt);
            CHECK(after.updatedAt == before.updatedAt);
        }
        CHECK(f.events(call.id, "outcome = 'out_of_order'") == 2);
        CHECK(f.events(call.id, "outcome = 'out_of_order' AND reason IS NOT NULL") == 2);
    }

    TEST_CASE("a repeated state is a duplicate") {
        Fixture f;
        auto call = f.admit("rep");
        REQUIRE(f.status(call.id, CallState::ringing).outcome == EventOutcome::applied);
        const auto version = f.stored(call.id).version;
        auto r = f.status(call.id, CallState::ringing);
        CHECK(r.outcome == EventOutcome::duplicate);
        CHECK(f.stored(call.id).version == version);
        CHECK(f.events(call.id, "outcome = 'duplicate' AND status = 'ringing'") == 1);
    }

    TEST_CASE("the same sequence number twice is a duplicate, even with another status") {
        Fixture f;
        auto call = f.admit("seq");
        auto ev = test::statusEvent(call.id, CallState::ringing);
        ev.sequence = 7;
        REQUIRE(f.t.lifecycle->applyStatus(ev).outcome == EventOutcome::applied);
        const auto version = f.stored(call.id).version;
        ev.status = CallState::in_progress;
        auto r = f.t.lifecycle->applyStatus(ev);
        CHECK(r.outcome == EventOutcome::duplicate);
        CHECK(f.stored(call.id).state == CallState::ringing);
        CHECK(f.stored(call.id).version == version);
        // A new sequence number is applied.
        ev.sequence = 8;
        CHECK(f.t.lifecycle->applyStatus(ev).outcome == EventOutcome::applied);
        CHECK(f.stored(call.id).lastSequence == 8);
        CHECK(f.events(call.id, "sequence = 7") == 2);
    }

    TEST_CASE("the same event id twice is a duplicate; both deliveries are in the history") {
        Fixture f;
        auto call = f.admit("evid");
        auto ev = test::statusEvent(call.id, CallState::ringing);
        ev.eventId = "EV-123";
        REQUIRE(f.t.lifecycle->applyStatus(ev).outcome == EventOutcome::applied);
        const auto version = f.stored(call.id).version;
        // The redelivery says something else; it is still the same event.
        ev.status = CallState::in_progress;
        auto r = f.t.lifecycle->applyStatus(ev);
        CHECK(r.outcome == EventOutcome::duplicate);
        CHECK(f.stored(call.id).state == CallState::ringing);
        CHECK(f.stored(call.id).version == version);

        CHECK(f.events(call.id, "kind = 'status'") == 2);
        CHECK(scalar(f.t, "SELECT count(*) FROM call_events WHERE idempotency_key = 'EV-123'") ==
              1);
        CHECK(scalarText(f.t, "SELECT outcome FROM call_events WHERE idempotency_key = 'EV-123'") ==
              "applied");
        CHECK(f.events(call.id,
                       "kind = 'status' AND outcome = 'duplicate' AND idempotency_key IS NULL") ==
              1);

        // The same id for another call is still the same event.
        auto other = f.admit("evid2");
        auto ev2 = test::statusEvent(other.id, CallState::ringing);
        ev2.eventId = "EV-123";
        CHECK(f.t.lifecycle->applyStatus(ev2).outcome == EventOutcome::duplicate);
        CHECK(f.stored(other.id).state == CallState::reserved);
    }

    TEST_CASE("events after the end are after_end and change nothing") {
        Fixture f;
        auto call = f.admit("late");
        REQUIRE(f.status(call.id, CallState::busy).outcome == EventOutcome::applied);
        const auto ended = f.stored(call.id);
        for (const auto late : {CallState::initiated, CallState::ringing, CallState::in_progress,
                                CallState::completed, CallState::failed, CallState::canceled}) {
            CAPTURE(late);
            f.t.clock.advanceMs(1000);
            auto r = f.status(call.id, late);
            CHECK(r.outcome == EventOutcome::after_end);
            const auto now = f.stored(call.id);
            CHECK(now.state == CallState::busy);
            CHECK(now.version == ended.version);
            CHECK(now.endedAt == ended.endedAt);
        }
        CHECK(f.events(call.id, "outcome = 'after_end'") == 6);
    }
}

TEST_SUITE("slot release") {
    TEST_CASE("the slot is released exactly once, whatever ends the call and however often") {
        Fixture f;
        auto keep = f.admit("keep");
        auto call = f.admit("once");
        REQUIRE(test::clientActive(f.t, "acme") == 2);
        REQUIRE(test::globalActive(f.t) == 2);

        CHECK(f.status(call.id, CallState::completed).outcome == EventOutcome::applied);
        CHECK(test::clientActive(f.t, "acme") == 1);
        CHECK(f.status(call.id, CallState::busy).outcome == EventOutcome::after_end);
        CHECK(f.status(call.id, CallState::completed).outcome == EventOutcome::duplicate);
        CHECK(f.t.lifecycle->end(test::endReq(call.id)).outcome == EventOutcome::after_end);
        f.t.clock.advanceMs(24 * 3600 * 1000LL);
        f.t.lifecycle->reapExpired(100);  // ends `keep`, not `call` again
        CHECK(f.stored(call.id).state == CallState::completed);
        CHECK(f.stored(keep.id).state == CallState::timed_out);
        CHECK(test::clientActive(f.t, "acme") == 0);
        CHECK(test::globalActive(f.t) == 0);
        CHECK(f.events(call.id,
                       "outcome = 'applied' AND to_state IN ('completed', 'busy', 'failed', "
                       "'no_answer', 'canceled', 'timed_out')") == 1);
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("heartbeats and expiry") {
    TEST_CASE(
        "a heartbeat before the answer is not_extended (ring timeout kept); after, max_call_s") {
        Fixture f;
        const int64_t t0 = f.t.clock.nowMs();
        auto call = f.admit("hb");
        CHECK(call.expiresAt == t0 + 60'000);

        // Issue 8 §4: only answered calls are extended; a heartbeat on a
        // ringing call leaves the ring timeout alone. Issue 9 §7: heartbeats
        // are counted on the call, never recorded as event rows.
        f.t.clock.advanceMs(30'000);
        auto r = f.t.lifecycle->heartbeat(db::CallRef::byId(call.id));
        CHECK(r.outcome == EventOutcome::not_extended);
        CHECK(r.call->expiresAt == t0 + 60'000);
        CHECK(f.stored(call.id).expiresAt == t0 + 60'000);
        CHECK(f.stored(call.id).state == CallState::reserved);
        CHECK(f.events(call.id, "kind = 'heartbeat'") == 0);
        CHECK(f.stored(call.id).heartbeats == 0);

        f.t.clock.advanceMs(10'000);
        CHECK(f.status(call.id, CallState::ringing).call->expiresAt == t0 + 40'000 + 60'000);

        f.t.clock.advanceMs(10'000);
        auto answered = f.status(call.id, CallState::in_progress);
        CHECK(answered.call->expiresAt == t0 + 50'000 + 14'400'000);

        f.t.clock.advanceMs(3'600'000);
        r = f.t.lifecycle->heartbeat(db::CallRef::byExternal("acme", "hb"));
        CHECK(r.outcome == EventOutcome::applied);
        CHECK(r.call->expiresAt == t0 + 3'650'000 + 14'400'000);
        CHECK(r.call->heartbeats == 1);
        CHECK(f.stored(call.id).heartbeats == 1);
        CHECK(f.stored(call.id).lastHeartbeatAt == t0 + 3'650'000);
        f.t.clock.advanceMs(1'000);
        f.t.lifecycle->heartbeat(db::CallRef::byId(call.id));
        CHECK(f.stored(call.id).heartbeats == 2);
        CHECK(f.stored(call.id).lastHeartbeatAt == t0 + 3'651'000);
        CHECK(f.events(call.id, "kind = 'heartbeat'") == 0);

        f.t.lifecycle->end(test::endReq(call.id));
        r = f.t.lifecycle->heartbeat(db::CallRef::byId(call.id));
        CHECK(r.outcome == EventOutcome::after_end);
        CHECK_FALSE(f.stored(call.id).expiresAt.has_value());
        CHECK(f.stored(call.id).heartbeats == 2);
        CHECK(f.events(call.id, "kind = 'heartbeat'") == 0);
    }

    TEST_CASE("per-client ring timeout and max call duration") {
        Fixture f;
        db::ClientPatch p = test::limitPatch(5);
        p.ringTimeoutS = 10;
        p.maxCallS = 100;
        f.t.clients->create("short", p);
        const int64_t t0 = f.t.clock.nowMs();
        auto call = f.admit("s1", "short");
        CHECK(call.expiresAt == t0 + 10'000);
        f.t.clock.advanceMs(5'000);
        CHECK(f.status(call.id, CallState::ringing).call->expiresAt == t0 + 15'000);
        CHECK(f.status(call.id, CallState::in_progress).call->expiresAt == t0 + 5'000 + 100'000);
        f.t.clock.advanceMs(50'000);
        CHECK(f.t.lifecycle->heartbeat(db::CallRef::byId(call.id)).call->expiresAt ==
              t0 + 55'000 + 100'000);

        // Changing the client's timeouts applies from the next event on.
        db::ClientPatch longer;
        longer.maxCallS = 1000;
        f.t.clients->update("short", longer);
        CHECK(f.t.lifecycle->heartbeat(db::CallRef::byId(call.id)).call->expiresAt ==
              t0 + 55'000 + 1'000'000);
    }
}

TEST_SUITE("explicit end") {
    TEST_CASE("end() completes an answered call and cancels any other live call") {
        Fixture f;
        auto answered = f.admit("e1");
        f.status(answered.id, CallState::in_progress);
        auto r = f.t.lifecycle->end(test::endReq(answered.id));
        CHECK(r.outcome == EventOutcome::applied);
        CHECK(r.call->state == CallState::completed);

        for (const auto before : {CallState::reserved, CallState::initiated, CallState::ringing}) {
            CAPTURE(before);
            auto call = f.admit(std::string("e-") + std::string(db::nameOf(before)));
            if (before != CallState::reserved) f.status(call.id, before);
            db::EndRequest req = test::endReq(call.id);
            req.reason = "operator hung up";
            auto e = f.t.lifecycle->end(req);
            CHECK(e.outcome == EventOutcome::applied);
            CHECK(e.call->state == CallState::canceled);
            CHECK(f.stored(call.id).endReason.value_or("") == "operator hung up");
        }
        CHECK(test::clientActive(f.t, "acme") == 0);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("an expectedVersion that does not match is a conflict and changes nothing") {
        Fixture f;
        auto call = f.admit("v1");
        REQUIRE(f.status(call.id, CallState::ringing).outcome == EventOutcome::applied);
        const auto current = f.stored(call.id);
        const int64_t events = f.events(call.id);

        auto ev = test::statusEvent(call.id, CallState::in_progress);
        ev.expectedVersion = current.version - 1;
        CHECK(test::thrownBy([&] { f.t.lifecycle->applyStatus(ev); }).code ==
              db::ErrorCode::conflict);
        db::EndRequest req = test::endReq(call.id);
        req.expectedVersion = current.version + 1;
        CHECK(test::thrownBy([&] { f.t.lifecycle->end(req); }).code == db::ErrorCode::conflict);

        CHECK(f.stored(call.id).state == CallState::ringing);
        CHECK(f.stored(call.id).version == current.version);
        CHECK(test::clientActive(f.t, "acme") == 1);
        CHECK(f.events(call.id) == events);

        // The right version is applied.
        ev.expectedVersion = current.version;
        CHECK(f.t.lifecycle->applyStatus(ev).outcome == EventOutcome::applied);
        req.expectedVersion = current.version + 1;
        CHECK(f.t.lifecycle->end(req).call->state == CallState::completed);
    }
}

TEST_SUITE("finding calls") {
    TEST_CASE("an unknown call id is not_found for every operation") {
        Fixture f;
        f.admit("exists");
        const int64_t events = scalar(f.t, "SELECT count(*) FROM call_events");
        const auto ref = db::CallRef::byId(987654);
        CHECK(test::thrownBy([&] { f.t.lifecycle->end(test::endReq(987654)); }).code ==
              db::ErrorCode::not_found);
        CHECK(test::thrownBy([&] { f.t.lifecycle->heartbeat(ref); }).code ==
              db::ErrorCode::not_found);
        CHECK(test::thrownBy([&] { f.status(987654, CallState::ringing); }).code ==
              db::ErrorCode::not_found);
        CHECK(scalar(f.t, "SELECT count(*) FROM call_events") == events);
    }

    TEST_CASE("a call id scoped to another client is not_found, and the call is untouched") {
        Fixture f;
        auto call = f.admit("mine", "acme");
        db::CallRef scoped{call.id, std::string("beta"), std::nullopt};
        CHECK(test::thrownBy([&] { f.t.lifecycle->heartbeat(scoped); }).code ==
              db::ErrorCode::not_found);
        db::EndRequest req;
        req.call = scoped;
        CHECK(test::thrownBy([&] { f.t.lifecycle->end(req); }).code == db::ErrorCode::not_found);
        db::StatusEvent ev;
        ev.call = scoped;
        ev.status = CallState::completed;
        CHECK(test::thrownBy([&] { f.t.lifecycle->applyStatus(ev); }).code ==
              db::ErrorCode::not_found);
        CHECK(f.stored(call.id).state == CallState::reserved);
        CHECK(test::clientActive(f.t, "acme") == 1);

        // Scoped to its own client, it is found.
        db::CallRef own{call.id, std::string("acme"), std::nullopt};
        CHECK(f.t.lifecycle->heartbeat(own).outcome == EventOutcome::not_extended);
    }

    TEST_CASE("a call named by an external id of another client is not that call") {
        Fixture f;
        auto call = f.admit("shared-ext", "acme");
        db::EndRequest req;
        req.call = db::CallRef::byExternal("beta", "shared-ext");
        CHECK(test::thrownBy([&] { f.t.lifecycle->end(req); }).code == db::ErrorCode::not_found);
        CHECK(f.stored(call.id).live());
    }
}

TEST_CASE("malformed events are invalid_argument and recorded nowhere") {
    Fixture f;
    auto call = f.admit("inv");
    const int64_t events = scalar(f.t, "SELECT count(*) FROM call_events");
    // `reserved` is set by admission only.
    CHECK(test::thrownBy([&] { f.status(call.id, CallState::reserved); }).code ==
          db::ErrorCode::invalid_argument);
    // A reference that names no call: neither an id nor client and external id.
    db::StatusEvent ev;
    ev.call = db::CallRef{std::nullopt, std::string("acme"), std::nullopt};
    ev.status = CallState::ringing;
    CHECK(test::thrownBy([&] { f.t.lifecycle->applyStatus(ev); }).code ==
          db::ErrorCode::invalid_argument);
    ev.call = db::CallRef::byExternal("bad client!", "x");
    CHECK(test::thrownBy([&] { f.t.lifecycle->applyStatus(ev); }).code ==
          db::ErrorCode::invalid_argument);
    CHECK(test::thrownBy([&] { f.t.lifecycle->heartbeat(db::CallRef{}); }).code ==
          db::ErrorCode::invalid_argument);
    CHECK(scalar(f.t, "SELECT count(*) FROM call_events") == events);
    CHECK(f.stored(call.id).state == CallState::reserved);
}

TEST_CASE("the invariant checker passes after a mixed lifecycle workout") {
    Fixture f;
    std::vector<int64_t> ids;
    for (int i = 0; i < 8; ++i) ids.push_back(f.admit("mix" + std::to_string(i)).id);
    f.status(ids[0], CallState::in_progress);
    f.status(ids[0], CallState::ringing);
    f.status(ids[1], CallState::no_answer);
    f.status(ids[1], CallState::no_answer);
    f.t.lifecycle->end(test::endReq(ids[2]));
    f.t.lifecycle->end(test::endReq(ids[2]));
    f.t.lifecycle->heartbeat(db::CallRef::byId(ids[3]));
    f.status(ids[4], CallState::failed);
    f.status(ids[4], CallState::ringing);
    f.t.clock.advanceMs(61'000);
    CHECK(f.t.lifecycle->reapExpired(100) == 4);  // the unanswered live ones
    CHECK(test::clientActive(f.t, "acme") == 1);
    CHECK(test::liveSlotted(f.t) == 1);
    CHECK_INVARIANTS(f.t);
}
