#include "tests/TestDatabase.h"

#include <doctest/doctest.h>

using namespace calltrack;

TEST_CASE("a fresh database admits and ends a call") {
    test::TestDatabase t;
    t.clients->create("acme", db::ClientPatch{.maxConcurrent = 1});
    auto r = t.admission->admit({.clientId = "acme", .externalId = "CA1"});
    CHECK(r.outcome == db::AdmitResult::Outcome::admitted);
    CHECK(r.client.active == 1);
    auto e = t.lifecycle->end({.call = db::CallRef::byId(r.call->id)});
    CHECK(e.outcome == db::EventOutcome::applied);
    CHECK(e.call->state == db::CallState::canceled);
}
