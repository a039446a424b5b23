#include "db/spool/EventIntake.h"

#include "db/EngineError.h"
#include "db/spool/SpoolLedger.h"

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

namespace calltrack::db {

namespace {

// The database could not take the write: spool it. (Everything else is the
// event's own fault and is answered as such.)
bool spoolable(ErrorCode code) {
    switch (code) {
        case ErrorCode::busy:
        case ErrorCode::deadline_exceeded:
        case ErrorCode::storage_failure:
        case ErrorCode::database_unavailable:
        case ErrorCode::shutting_down:
            return true;
        default:
            return false;
    }
}

// SQLite errors that are the database's trouble, not the record's.
bool storageTrouble(int primaryCode) {
    switch (primaryCode) {
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_NOMEM:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PROTOCOL:
        case SQLITE_INTERRUPT:
            return true;
        default:
            return false;
    }
}

// What a replayed offline admission did, for the ledger.
std::string admitOutcome(const AdmitResult& r) {
    switch (r.outcome) {
        case AdmitResult::Outcome::admitted:
            return r.call && r.call->wouldRefuse
                       ? "admitted offline, flagged: over the limit when written (" +
                             *r.call->wouldRefuse + ")"
                       : "admitted offline";
        case AdmitResult::Outcome::existing:
            return "existing";
        case AdmitResult::Outcome::already_ended:
            return "already_ended";
        case AdmitResult::Outcome::refused:
            return std::string("error refused: ") + nameOf(r.refusal);
    }
    return "admitted offline";
}

// Whether the event names its call by external id: the only way to name a
// call admitted offline, which may still wait in another process's spool.
bool byExternalId(const EventIntake::Event& event) {
    const CallRef* ref = nullptr;
    if (const auto* s = std::get_if<StatusEvent>(&event)) ref = &s->call;
    if (const auto* e = std::get_if<EndRequest>(&event)) ref = &e->call;
    if (const auto* h = std::get_if<HeartbeatRequest>(&event)) ref = &h->call;
    return ref && !ref->id && ref->externalId;
}

void validate(const EventIntake::Event& event) {
    if (const auto* a = std::get_if<AdmitRequest>(&event)) {
        if (!a->externalId)
            throw EngineError(ErrorCode::invalid_argument, "an offline admission needs its id");
        return;
    }
    if (const auto* t = std::get_if<TwilioEvent>(&event)) return ProviderCallEvents::validate(*t);
    if (const auto* s = std::get_if<StatusEvent>(&event)) return CallLifecycle::validate(*s);
    if (const auto* e = std::get_if<EndRequest>(&event)) return CallLifecycle::validate(e->call);
    CallLifecycle::validate(std::get<HeartbeatRequest>(event).call);
}

}  // namespace

EventResult EventIntake::applyIn(Connection& c, int64_t nowMs, const Event& event) {
    if (const auto* t = std::get_if<TwilioEvent>(&event))
        return ProviderCallEvents::applyTwilioIn(c, nowMs, *t);
    if (const auto* s = std::get_if<StatusEvent>(&event))
        return CallLifecycle::applyStatusIn(c, nowMs, *s);
    if (const auto* e = std::get_if<EndRequest>(&event)) return CallLifecycle::endIn(c, nowMs, *e);
    if (std::holds_alternative<AdmitRequest>(event))
        throw EngineError(ErrorCode::internal, "an admission is not an event");
    const auto& h = std::get<HeartbeatRequest>(event);
    return CallLifecycle::heartbeatIn(c, nowMs, h.call, h.source);
}

IntakeOutcome EventIntake::twilio(TwilioEvent event, Deadline deadline) {
    return submit(std::move(event), false, deadline);
}

IntakeOutcome EventIntake::status(StatusEvent event, Deadline deadline) {
    const bool conditional = event.expectedVersion.has_value();
    return submit(std::move(event), conditional, deadline);
}

IntakeOutcome EventIntake::end(EndRequest request, Deadline deadline) {
    const bool conditional = request.expectedVersion.has_value();
    return submit(std::move(request), conditional, deadline);
}

IntakeOutcome EventIntake::heartbeat(HeartbeatRequest request, Deadline deadline) {
    return submit(std::move(request), false, deadline);
}

IntakeOutcome EventIntake::admitOffline(AdmitRequest request, std::string why) {
    request.admittedOffline = true;
    validate(Event(request));
    return spoolIt(std::move(request), std::move(why));
}

IntakeOutcome EventIntake::submit(Event event, bool conditional, Deadline deadline) {
    validate(event);
    if (!conditional && spool_.pendingOnHost()) {
        try {
            return spoolIt(event, "earlier events are still waiting in the spool");
        } catch (const EngineError&) {
            // The spool cannot take it: the database may (out of order
            // beats lost).
        }
    }
    try {
        IntakeOutcome out;
        out.result =
            writer_.run([&](Connection& c) { return applyIn(c, clock_.nowMs(), event); }, deadline);
        return out;
    } catch (const EngineError& e) {
        if (conditional || !spoolable(e.code())) throw;
        return spoolIt(std::move(event), e.what());
    }
}

IntakeOutcome EventIntake::spoolIt(Event event, std::string why) {
    SpoolRecord record;
    record.key = SpoolRecord::newKey();
    record.receivedAtMs = clock_.nowMs();
    record.event = std::move(event);
    spool_.append(record);
    IntakeOutcome out;
    out.spooled = true;
    out.spoolKey = record.key;
    out.why = std::move(why);
    return out;
}

ReplayRound EventIntake::replay(size_t maxRecords, Deadline deadline) {
    ReplayRound round;
    auto batch = spool_.next(maxRecords);
    if (batch.empty()) return round;

    // A call another live process's spool may still create (an offline
    // admission) is not "not found" yet: such a record waits (the round
    // stops at it) until that spool is drained.
    const bool othersPending = spool_.stats().otherProcessBytes > 0;
    // One op per readable record, in order; each records its key in the
    // ledger with its event, or finds it there already.
    enum Result { applied, already, failed };
    std::vector<std::function<int(Connection&)>> ops;
    std::vector<size_t> opOf(batch.size(), SIZE_MAX);
    for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].record.key.empty()) continue;
        opOf[i] = ops.size();
        const SpoolRecord* r = &batch[i].record;
        ops.push_back([this, r, othersPending](Connection& c) -> int {
            if (SpoolLedger::outcomeOf(c, r->key)) return already;
            const int64_t now = clock_.nowMs();
            std::string outcome;
            int result = applied;
            c.exec("SAVEPOINT spool_record");
            try {
                if (const auto* a = std::get_if<AdmitRequest>(&r->event)) {
                    const auto admitted = AdmissionEngine::admitIn(c, now, *a);
                    outcome = admitOutcome(admitted);
                    if (admitted.outcome == AdmitResult::Outcome::refused) result = failed;
                } else {
                    outcome = nameOf(applyIn(c, now, r->event).outcome);
                }
                c.exec("RELEASE spool_record");
            } catch (const EngineError& e) {
                if (spoolable(e.code())) throw;
                if (e.code() == ErrorCode::not_found && othersPending && byExternalId(r->event)) {
                    c.exec("ROLLBACK TO spool_record");
                    c.exec("RELEASE spool_record");
                    throw EngineError(ErrorCode::not_found,
                                      "waits: its call may still come from another process's "
                                      "spool");
                }
                c.exec("ROLLBACK TO spool_record");
                c.exec("RELEASE spool_record");
                outcome = "error " + std::string(nameOf(e.code())) + ": " + e.what();
                result = failed;
            } catch (const SQLite::Exception& e) {
                if (storageTrouble(e.getErrorCode())) throw;
                c.exec("ROLLBACK TO spool_record");
                c.exec("RELEASE spool_record");
                outcome = std::string("error: ") + e.what();
                result = failed;
            }
            SpoolLedger::record(c, r->key, now, outcome);
            return result;
        });
    }
    std::vector<std::pair<std::optional<int>, std::exception_ptr>> results;
    if (!ops.empty()) {
        try {
            results = writer_.runAll<int>(std::move(ops), deadline);
        } catch (const EngineError& e) {  // the breaker: not tried
            round.blocked = true;
            round.error = e.what();
            return round;
        }
    }
    // Consumed: the records up to the first one that did not commit.
    std::vector<IntakeSpool::Pending> done;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (opOf[i] == SIZE_MAX) {
            ++round.corrupt;
            done.push_back(std::move(batch[i]));
            continue;
        }
        auto& [value, error] = results[opOf[i]];
        if (error) {
            round.blocked = true;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                round.error = e.what();
            }
            break;
        }
        if (offline_) {
            if (const auto* a = std::get_if<AdmitRequest>(&batch[i].record.event))
                offline_->written(a->clientId, *a->externalId);
        }
        if (*value == applied) ++round.applied;
        if (*value == already) ++round.alreadyApplied;
        if (*value == failed) ++round.failed;
        done.push_back(std::move(batch[i]));
    }
    spool_.consume(done);
    return round;
}

int EventIntake::purgeAppliedKeys(int limit, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            return SpoolLedger::purgeOlderThan(c, clock_.nowMs() - SpoolLedger::kKeepMs, limit);
        },
        deadline);
}

ReplayRound EventIntake::drain(const std::function<bool()>& go,
                               std::chrono::milliseconds perRound) {
    ReplayRound sum;
    while (go()) {
        const auto r = replay(256, std::chrono::steady_clock::now() + perRound);
        sum.applied += r.applied;
        sum.alreadyApplied += r.alreadyApplied;
        sum.failed += r.failed;
        sum.corrupt += r.corrupt;
        if (r.blocked) {
            sum.blocked = true;
            sum.error = r.error;
            break;
        }
        if (r.total() == 0) break;
    }
    return sum;
}

}  // namespace calltrack::db
