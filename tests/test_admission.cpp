// Admission: who gets a slot, who is refused and why, idempotent retries,
// observe mode, changing limits under live calls, and input validation.

#include "tests/TestSupport.h"

#include <random>
#include <set>

using namespace calltrack;
using db::AdmitResult;
using db::Refusal;
using test::scalar;
using test::scalarText;

namespace {

int64_t eventCount(test::TestDatabase& t) {
    return scalar(t, "SELECT count(*) FROM call_events");
}
int64_t callCount(test::TestDatabase& t) {
    return scalar(t, "SELECT count(*) FROM calls");
}
int64_t refusedTotal(test::TestDatabase& t, const std::string& client) {
    return scalar(t, "SELECT refused_total FROM clients WHERE id = '" + client + "'");
}

// The newest call_events row, as "kind outcome reason".
std::string lastEvent(test::TestDatabase& t) {
    return scalarText(
        t,
        "SELECT kind || ' ' || outcome || ' ' || coalesce(reason, '-') FROM call_events "
        "ORDER BY id DESC LIMIT 1");
}

db::ClientPatch observePatch(int64_t limit) {
    db::ClientPatch p;
    p.maxConcurrent = limit;
    p.mode = db::ClientMode::observe;
    return p;
}

}  // namespace

TEST_SUITE("refusals") {
    TEST_CASE("each refusal reason is returned, recorded in call_events and counted") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1));
        t.clients->create("beta", test::limitPatch(5));
        db::ClientPatch disabled = test::limitPatch(5);
        disabled.enabled = false;
        t.clients->create("off", disabled);
        t.clients->setGlobalLimit(2);

        SUBCASE("unknown_client") {
            const int64_t callsBefore = callCount(t);
            auto r = t.admission->admit(test::admitReq("ghost", "CA1"));
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::unknown_client);
            CHECK_FALSE(r.call.has_value());
            CHECK(lastEvent(t) == "admit refused unknown_client");
            CHECK(scalarText(t, "SELECT external_id FROM call_events ORDER BY id DESC LIMIT 1") ==
                  "CA1");
            CHECK(callCount(t) == callsBefore);
        }
        SUBCASE("client_disabled") {
            auto r = t.admission->admit(test::admitReq("off", "CA1"));
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::client_disabled);
            CHECK(lastEvent(t) == "admit refused client_disabled");
            CHECK(refusedTotal(t, "off") == 1);
            CHECK(callCount(t) == 0);
        }
        SUBCASE("client_limit_reached") {
            REQUIRE(t.admission->admit(test::admitReq("acme", "CA1")).outcome ==
                    AdmitResult::Outcome::admitted);
            auto r = t.admission->admit(test::admitReq("acme", "CA2"));
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::client_limit_reached);
            CHECK(r.client.active == 1);
            CHECK(r.client.limit == 1);
            CHECK(lastEvent(t) == "admit refused client_limit_reached");
            CHECK(refusedTotal(t, "acme") == 1);
            CHECK(t.admission->admit(test::admitReq("acme", "CA3")).outcome ==
                  AdmitResult::Outcome::refused);
            CHECK(refusedTotal(t, "acme") == 2);
            CHECK(callCount(t) == 1);
            CHECK(test::clientActive(t, "acme") == 1);
        }
        SUBCASE("global_limit_reached") {
            REQUIRE(t.admission->admit(test::admitReq("acme", "CA1")).outcome ==
                    AdmitResult::Outcome::admitted);
            REQUIRE(t.admission->admit(test::admitReq("beta", "CB1")).outcome ==
                    AdmitResult::Outcome::admitted);
            auto r = t.admission->admit(test::admitReq("beta", "CB2"));
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::global_limit_reached);
            CHECK(r.global.active == 2);
            CHECK(r.global.limit == 2);
            CHECK(lastEvent(t) == "admit refused global_limit_reached");
            CHECK(refusedTotal(t, "beta") == 1);
            CHECK(refusedTotal(t, "acme") == 0);
            CHECK(test::globalActive(t) == 2);
            CHECK(test::liveSlotted(t) == 2);
        }
        CHECK_INVARIANTS(t);
    }
}

TEST_SUITE("idempotent admission") {
    TEST_CASE(
        "admitting the same (client, external_id) again returns the same call, counted once") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(3));
        auto first = t.admission->admit(test::admitReq("acme", "CA1"));
        REQUIRE(first.outcome == AdmitResult::Outcome::admitted);
        REQUIRE(first.call);
        CHECK(first.client.active == 1);

        auto again = t.admission->admit(test::admitReq("acme", "CA1"));
        CHECK(again.outcome == AdmitResult::Outcome::existing);
        REQUIRE(again.call);
        CHECK(again.call->id == first.call->id);
        CHECK(again.call->holdsSlot);
        CHECK(test::clientActive(t, "acme") == 1);
        CHECK(test::globalActive(t) == 1);
        CHECK(callCount(t) == 1);

        // The same external id for another client is another call.
        t.clients->create("beta", test::limitPatch(3));
        auto other = t.admission->admit(test::admitReq("beta", "CA1"));
        CHECK(other.outcome == AdmitResult::Outcome::admitted);
        CHECK(other.call->id != first.call->id);

        SUBCASE("also when the client is full meanwhile") {
            t.admission->admit(test::admitReq("acme", "CA2"));
            t.admission->admit(test::admitReq("acme", "CA3"));
            REQUIRE(test::clientActive(t, "acme") == 3);
            auto retry = t.admission->admit(test::admitReq("acme", "CA1"));
            CHECK(retry.outcome == AdmitResult::Outcome::existing);
            CHECK(retry.call->id == first.call->id);
            CHECK(test::clientActive(t, "acme") == 3);
        }
        SUBCASE("after the call ended: already_ended with the ended call, no new slot") {
            auto ended = t.lifecycle->end(test::endReq(first.call->id));
            REQUIRE(ended.outcome == db::EventOutcome::applied);
            REQUIRE(test::clientActive(t, "acme") == 0);
            auto retry = t.admission->admit(test::admitReq("acme", "CA1"));
            // Issue 8: a dialer must never be told to dial a call that is over.
            CHECK(retry.outcome == AdmitResult::Outcome::already_ended);
            REQUIRE(retry.call);
            CHECK(retry.call->id == first.call->id);
            CHECK(retry.call->state == db::CallState::canceled);
            CHECK_FALSE(retry.call->live());
            CHECK(test::clientActive(t, "acme") == 0);
            CHECK(test::liveSlotted(t, "acme") == 0);
            CHECK(scalar(t, "SELECT count(*) FROM calls WHERE client_id = 'acme'") == 1);
        }
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("generated external ids are unique") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1000));
        t.clients->setGlobalLimit(1000);
        std::set<std::string> seen;
        for (int i = 0; i < 300; ++i) {
            db::AdmitRequest r;
            r.clientId = "acme";
            auto result = t.admission->admit(r);
            REQUIRE(result.outcome == AdmitResult::Outcome::admitted);
            CHECK_FALSE(result.call->externalId.empty());
            seen.insert(result.call->externalId);
        }
        CHECK(seen.size() == 300);
        CHECK(test::clientActive(t, "acme") == 300);
        CHECK(scalar(t, "SELECT count(DISTINCT external_id) FROM calls") == 300);
    }
}

TEST_SUITE("observe mode") {
    TEST_CASE("over the limit an observe-mode call is admitted without a slot and flagged") {
        test::TestDatabase t;
        t.clients->create("obs", observePatch(2));
        std::vector<int64_t> ids;
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            auto r = t.admission->admit(test::admitReq("obs", "O" + std::to_string(i)));
            REQUIRE(r.outcome == AdmitResult::Outcome::admitted);
            REQUIRE(r.call);
            ids.push_back(r.call->id);
            CHECK(r.call->live());
            if (i < 2) {
                CHECK(r.call->holdsSlot);
                CHECK_FALSE(r.call->wouldRefuse.has_value());
            } else {
                CHECK_FALSE(r.call->holdsSlot);
                CHECK(r.call->wouldRefuse.value_or("") == "client_limit_reached");
            }
            CHECK(r.client.active <= 2);
        }
        CHECK(scalar(t, "SELECT flagged_total FROM clients WHERE id = 'obs'") == 3);
        CHECK(scalar(t, "SELECT refused_total FROM clients WHERE id = 'obs'") == 0);
        CHECK(test::clientActive(t, "obs") == 2);
        CHECK(test::globalActive(t) == 2);
        CHECK(test::liveCalls(t) == 5);
        CHECK(
            scalar(t, "SELECT unslotted_active FROM client_utilization WHERE client_id = 'obs'") ==
            3);
        CHECK_INVARIANTS(t);

        // Ending all of them, the unslotted ones first: nothing goes negative.
        for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
            auto e = t.lifecycle->end(test::endReq(*it));
            CHECK(e.outcome == db::EventOutcome::applied);
            CHECK(test::clientActive(t, "obs") >= 0);
        }
        CHECK(test::clientActive(t, "obs") == 0);
        CHECK(test::globalActive(t) == 0);
        CHECK(test::liveCalls(t) == 0);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("observe mode flags each reason enforce mode would have refused with") {
        test::TestDatabase t;
        SUBCASE("client_disabled") {
            db::ClientPatch p = observePatch(5);
            p.enabled = false;
            t.clients->create("obs", p);
            auto r = t.admission->admit(test::admitReq("obs", "O1"));
            CHECK(r.outcome == AdmitResult::Outcome::admitted);
            CHECK_FALSE(r.call->holdsSlot);
            CHECK(r.call->wouldRefuse.value_or("") == "client_disabled");
        }
        SUBCASE("global_limit_reached") {
            t.clients->create("obs", observePatch(5));
            t.clients->create("acme", test::limitPatch(5));
            t.clients->setGlobalLimit(1);
            REQUIRE(t.admission->admit(test::admitReq("acme", "A1")).outcome ==
                    AdmitResult::Outcome::admitted);
            auto r = t.admission->admit(test::admitReq("obs", "O1"));
            CHECK(r.outcome == AdmitResult::Outcome::admitted);
            CHECK_FALSE(r.call->holdsSlot);
            CHECK(r.call->wouldRefuse.value_or("") == "global_limit_reached");
            CHECK(test::globalActive(t) == 1);
        }
        CHECK(scalar(t, "SELECT flagged_total FROM clients WHERE id = 'obs'") == 1);
        CHECK(test::clientActive(t, "obs") == 0);
        CHECK_INVARIANTS(t);
    }
}

TEST_SUITE("changing limits") {
    TEST_CASE("lowering a client's limit keeps live calls and refuses until usage falls below it") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(5));
        std::vector<int64_t> ids;
        for (int i = 0; i < 5; ++i) {
            auto r = t.admission->admit(test::admitReq("acme", "L" + std::to_string(i)));
            REQUIRE(r.outcome == AdmitResult::Outcome::admitted);
            ids.push_back(r.call->id);
        }
        t.clients->update("acme", test::limitPatch(2));
        CHECK(test::liveCalls(t) == 5);
        CHECK(test::clientActive(t, "acme") == 5);
        CHECK_INVARIANTS(t);

        int n = 0;
        auto admitOne = [&] {
            return t.admission->admit(test::admitReq("acme", "N" + std::to_string(n++)));
        };
        // 5, 4, 3, 2 live: all refused.
        for (int ended = 0; ended < 3; ++ended) {
            CAPTURE(ended);
            auto r = admitOne();
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::client_limit_reached);
            t.lifecycle->end(test::endReq(ids[static_cast<size_t>(ended)]));
        }
        REQUIRE(test::clientActive(t, "acme") == 2);
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);

        // 1 live: one more fits, then full again.
        t.lifecycle->end(test::endReq(ids[3]));
        CHECK(admitOne().outcome == AdmitResult::Outcome::admitted);
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);
        CHECK(test::liveSlotted(t, "acme") == 2);

        // Raising the limit admits more, up to the new limit.
        t.clients->update("acme", test::limitPatch(4));
        CHECK(admitOne().outcome == AdmitResult::Outcome::admitted);
        CHECK(admitOne().outcome == AdmitResult::Outcome::admitted);
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);
        CHECK(test::liveSlotted(t, "acme") == 4);
        CHECK(test::clientActive(t, "acme") == 4);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("lowering the global limit keeps live calls and refuses until usage falls below it") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        t.clients->create("beta", test::limitPatch(10));
        std::vector<int64_t> ids;
        for (int i = 0; i < 5; ++i) {
            auto r = t.admission->admit(
                test::admitReq(i % 2 ? "acme" : "beta", "G" + std::to_string(i)));
            REQUIRE(r.outcome == AdmitResult::Outcome::admitted);
            ids.push_back(r.call->id);
        }
        t.clients->setGlobalLimit(2);
        CHECK(test::liveCalls(t) == 5);
        CHECK(test::globalActive(t) == 5);

        int n = 0;
        auto admitOne = [&] {
            return t.admission->admit(test::admitReq("acme", "N" + std::to_string(n++)));
        };
        for (int ended = 0; ended < 3; ++ended) {
            auto r = admitOne();
            CHECK(r.outcome == AdmitResult::Outcome::refused);
            CHECK(r.refusal == Refusal::global_limit_reached);
            t.lifecycle->end(test::endReq(ids[static_cast<size_t>(ended)]));
        }
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);
        t.lifecycle->end(test::endReq(ids[3]));
        CHECK(admitOne().outcome == AdmitResult::Outcome::admitted);
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);

        t.clients->setGlobalLimit(3);
        CHECK(admitOne().outcome == AdmitResult::Outcome::admitted);
        CHECK(admitOne().outcome == AdmitResult::Outcome::refused);
        CHECK(test::liveSlotted(t) == 3);
        CHECK(test::globalActive(t) == 3);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("slots are reused: many admit/end cycles never exceed a limit") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(3));
        t.clients->create("beta", test::limitPatch(4));
        t.clients->setGlobalLimit(5);
        std::mt19937 rng(12345);
        std::vector<int64_t> live;
        int admitted = 0, refused = 0;
        for (int i = 0; i < 600; ++i) {
            if (live.empty() || rng() % 2 == 0) {
                const std::string client = rng() % 2 ? "acme" : "beta";
                auto r = t.admission->admit(test::admitReq(client, "S" + std::to_string(i)));
                if (r.outcome == AdmitResult::Outcome::admitted) {
                    ++admitted;
                    live.push_back(r.call->id);
                    CHECK(r.client.active <= r.client.limit);
                    CHECK(r.global.active <= 5);
                } else {
                    ++refused;
                }
            } else {
                const size_t k = rng() % live.size();
                t.lifecycle->end(test::endReq(live[k]));
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
            }
            REQUIRE(test::liveSlotted(t, "acme") <= 3);
            REQUIRE(test::liveSlotted(t, "beta") <= 4);
            REQUIRE(test::liveSlotted(t) <= 5);
        }
        CHECK(admitted > 100);
        CHECK(refused > 0);
        // Slot numbers stay within the limits: they are reused, not used up.
        CHECK(scalar(t, "SELECT max(client_slot) FROM calls WHERE client_id = 'acme'") <= 3);
        CHECK(scalar(t, "SELECT max(global_slot) FROM calls") <= 5);
        CHECK(test::clientActive(t, "acme") + test::clientActive(t, "beta") ==
              static_cast<int64_t>(live.size()));
        CHECK_INVARIANTS(t);
    }
}

TEST_SUITE("input validation") {
    TEST_CASE("invalid input is invalid_argument and writes nothing") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(3));
        const int64_t events = eventCount(t);
        db::AdmitRequest r = test::admitReq("acme", "CA1");

        SUBCASE("client id with a space") {
            r.clientId = "bad id";
        }
        SUBCASE("client id with a quote") {
            r.clientId = "acme'--";
        }
        SUBCASE("client id too long") {
            r.clientId = std::string(65, 'a');
        }
        SUBCASE("empty client id") {
            r.clientId = "";
        }
        SUBCASE("external id too long") {
            r.externalId = std::string(129, 'x');
        }
        SUBCASE("empty external id") {
            r.externalId = "";
        }
        SUBCASE("external id with a control character") {
            r.externalId = std::string("CA\n1");
        }
        SUBCASE("metadata that is not JSON") {
            r.metadataJson = "{not json";
        }
        SUBCASE("metadata truncated") {
            r.metadataJson = R"({"a": [1, 2)";
        }
        SUBCASE("empty metadata") {
            r.metadataJson = "";
        }
        SUBCASE("empty provider") {
            r.provider = "";
        }

        const auto thrown = test::thrownBy([&] { t.admission->admit(r); });
        CHECK(thrown.code == db::ErrorCode::invalid_argument);
        CHECK(eventCount(t) == events);
        CHECK(callCount(t) == 0);
        CHECK(test::clientActive(t, "acme") == 0);
    }

    TEST_CASE("valid edge cases are accepted") {
        test::TestDatabase t;
        t.clients->create(std::string(64, 'a'), test::limitPatch(3));
        db::AdmitRequest r = test::admitReq(std::string(64, 'a'), std::string(128, 'x'));
        r.metadataJson = R"({"campaign": "spring", "tags": ["a", "b"], "n": 1.5})";
        auto result = t.admission->admit(r);
        CHECK(result.outcome == AdmitResult::Outcome::admitted);
        CHECK(result.call->metadata.value_or("") == *r.metadataJson);
    }

    TEST_CASE(
        "metadata that SQLite's json_valid refuses is invalid_argument, not a database error") {
        // The calls.metadata CHECK uses json_valid(); SQLite 3.40 refuses
        // nesting deeper than 2000 levels, which a general JSON parser accepts.
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(3));
        const int64_t events = eventCount(t);
        db::AdmitRequest r = test::admitReq("acme", "deep");
        r.metadataJson = std::string(2001, '[') + std::string(2001, ']');
        const auto thrown = test::thrownBy([&] { t.admission->admit(r); });
        INFO(thrown.message);
        CHECK(thrown.code == db::ErrorCode::invalid_argument);
        CHECK(eventCount(t) == events);
        CHECK(callCount(t) == 0);
    }
}

TEST_SUITE("events before admission") {
    TEST_CASE(
        "a terminal event that beats the admission makes the admission already_ended, no slot") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1));
        for (const auto terminal :
             {db::CallState::completed, db::CallState::busy, db::CallState::failed,
              db::CallState::no_answer, db::CallState::canceled}) {
            const std::string ext = "early-" + std::string(db::nameOf(terminal));
            CAPTURE(ext);
            db::StatusEvent ev;
            ev.call = db::CallRef::byExternal("acme", ext);
            ev.status = terminal;
            ev.source = "twilio";
            auto early = t.lifecycle->applyStatus(ev);
            CHECK(early.outcome == db::EventOutcome::unknown_call);
            CHECK(test::clientActive(t, "acme") == 0);

            auto r = t.admission->admit(test::admitReq("acme", ext));
            CHECK(r.outcome == AdmitResult::Outcome::already_ended);
            REQUIRE(r.call);
            CHECK(r.call->state == terminal);
            CHECK_FALSE(r.call->live());
            CHECK_FALSE(r.call->holdsSlot);
            CHECK(test::clientActive(t, "acme") == 0);
            CHECK(test::liveSlotted(t, "acme") == 0);

            // A retry of that admission: the same ended call, still already_ended.
            auto retry = t.admission->admit(test::admitReq("acme", ext));
            CHECK(retry.outcome == AdmitResult::Outcome::already_ended);
            REQUIRE(retry.call);
            CHECK(retry.call->id == r.call->id);
            CHECK(retry.call->state == terminal);
        }
        // The client's one slot is still free.
        CHECK(t.admission->admit(test::admitReq("acme", "normal")).outcome ==
              AdmitResult::Outcome::admitted);
        CHECK(test::clientActive(t, "acme") == 1);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("a non-terminal event before the admission is applied when the call is admitted") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1));
        const int64_t t0 = t.clock.nowMs();
        // in_progress (sequence 2) arrives before ringing (sequence 1): both
        // are kept and applied in sequence order at admission.
        for (auto [status, sequence] :
             {std::pair{db::CallState::in_progress, 2}, std::pair{db::CallState::ringing, 1}}) {
            db::StatusEvent ev;
            ev.call = db::CallRef::byExternal("acme", "CA1");
            ev.status = status;
            ev.sequence = sequence;
            ev.source = "generic";
            CHECK(t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::unknown_call);
        }
        CHECK(scalar(t, "SELECT count(*) FROM pending_events") == 2);
        t.clock.advanceMs(5'000);
        auto r = t.admission->admit(test::admitReq("acme", "CA1"));
        CHECK(r.outcome == AdmitResult::Outcome::admitted);
        REQUIRE(r.call);
        CHECK(r.call->live());
        CHECK(r.call->holdsSlot);
        // Answered: the expiry follows the answer, not the ring timeout, so
        // the reaper will not end a call that is up as "never answered".
        CHECK(r.call->state == db::CallState::in_progress);
        CHECK(r.call->expiresAt == t0 + 5'000 + 14'400'000);
        CHECK(r.call->lastSequence == 2);
        CHECK(scalar(t, "SELECT count(*) FROM pending_events") == 0);
        CHECK(scalar(t, "SELECT count(*) FROM call_events WHERE call_id = " +
                            std::to_string(r.call->id) + " AND outcome = 'applied'") == 2);
        CHECK(test::clientActive(t, "acme") == 1);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("kept events are not lost when the admission is refused, and apply to a later one") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1));
        t.admission->admit(test::admitReq("acme", "holder"));
        db::StatusEvent ev;
        ev.call = db::CallRef::byExternal("acme", "CA9");
        ev.status = db::CallState::ringing;
        ev.source = "generic";
        CHECK(t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::unknown_call);
        CHECK(t.admission->admit(test::admitReq("acme", "CA9")).outcome ==
              AdmitResult::Outcome::refused);
        CHECK(scalar(t, "SELECT count(*) FROM pending_events") == 1);
        t.lifecycle->end(test::endReq(1));
        auto r = t.admission->admit(test::admitReq("acme", "CA9"));
        CHECK(r.outcome == AdmitResult::Outcome::admitted);
        CHECK(r.call->state == db::CallState::ringing);
        CHECK(scalar(t, "SELECT count(*) FROM pending_events") == 0);
        CHECK_INVARIANTS(t);
    }

    TEST_CASE("event ids are per tenant: another client's evt-42 is not a duplicate") {
        test::TestDatabase t;
        t.clients->create("a", test::limitPatch(2));
        t.clients->create("b", test::limitPatch(2));
        auto ca = t.admission->admit(test::admitReq("a", "x"));
        auto cb = t.admission->admit(test::admitReq("b", "x"));
        db::StatusEvent ev;
        ev.status = db::CallState::ringing;
        ev.eventId = "evt-42";
        ev.call = db::CallRef::byId(ca.call->id);
        CHECK(t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::applied);
        ev.call = db::CallRef::byId(cb.call->id);
        auto other = t.lifecycle->applyStatus(ev);
        CHECK(other.outcome == db::EventOutcome::applied);
        CHECK(other.call->state == db::CallState::ringing);
        // Within one client the id still dedupes.
        ev.status = db::CallState::in_progress;
        CHECK(t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::duplicate);
        CHECK_INVARIANTS(t);
    }
}
