#pragma once
// Where provider webhooks and call events enter the engine. Each is applied
// at once when the database takes it within the caller's deadline; when it
// cannot (locked, failing, breaker open, shutting down) the event goes to
// the intake spool instead and the caller is told "spooled": it is durable
// and will be applied in arrival order once the database takes writes again
// (replay(), run by serve's spool job, or `calltrack spool replay`).
//
// Invariants:
//  * an event reported applied or spooled is never lost: applied means
//    committed, spooled means fsynced to the spool;
//  * a spooled record is applied at most once: its key goes into
//    spool_applied in the same transaction as its event (SpoolLedger);
//  * while any record on the host waits in the spool, new events are
//    spooled behind it, so none overtakes an earlier one;
//  * conditional requests (expected_version) are never spooled: what they
//    are conditional on may have changed by the time they would be applied.

#include "db/Clock.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/ProviderCallEvents.h"
#include "db/spool/IntakeSpool.h"
#include "db/spool/OfflineAdmissions.h"
#include "db/spool/SpoolRecord.h"
#include "db/storage/GroupCommitWriter.h"

#include <functional>
#include <optional>
#include <string>

namespace calltrack::db {

struct IntakeOutcome {
    std::optional<EventResult> result{};  // applied now
    bool spooled = false;
    std::string spoolKey;  // the spool record's key (spool_applied.key once applied)
    std::string why;       // why it was spooled
};

struct ReplayRound {
    int applied = 0;         // records whose events were applied now
    int alreadyApplied = 0;  // found in the ledger (replayed before a crash)
    int failed = 0;          // refused by the engine (no such call, ...): recorded, not retried
    int corrupt = 0;         // unreadable records skipped
    bool blocked = false;    // the database did not take the writes: try again later
    std::string error;       // why blocked
    int total() const { return applied + alreadyApplied + failed + corrupt; }
};

class EventIntake {
  public:
    // `offline`: the process's offline grants (admit_within_share), told
    // when each is written; none in processes that grant nothing.
    EventIntake(GroupCommitWriter& writer, const Clock& clock, IntakeSpool& spool,
                OfflineAdmissions* offline = nullptr)
        : writer_(writer), clock_(clock), spool_(spool), offline_(offline) {}

    // Throw EngineError invalid_argument (nothing spooled) for an event the
    // engine would refuse anyway, and spool_full / spool_unwritable when
    // it could not be applied and not be spooled either.
    IntakeOutcome twilio(TwilioEvent event, Deadline deadline);
    IntakeOutcome status(StatusEvent event, Deadline deadline);
    IntakeOutcome end(EndRequest request, Deadline deadline);
    IntakeOutcome heartbeat(HeartbeatRequest request, Deadline deadline);
    // An admission granted offline (OfflineAdmissions): spooled at once, to
    // be written by replay as admitted_offline. Throws spool_full /
    // spool_unwritable.
    IntakeOutcome admitOffline(AdmitRequest request, std::string why);

    // Applies up to maxRecords spooled records (adopted orphans included)
    // in one writer batch, in arrival order.
    ReplayRound replay(size_t maxRecords, Deadline deadline);
    // replay() rounds until the spool is empty, a round is blocked, or
    // `go` says stop. Sums the rounds.
    ReplayRound drain(const std::function<bool()>& go, std::chrono::milliseconds perRound);

    // Deletes up to `limit` ledger keys applied longer than
    // SpoolLedger::kKeepMs ago; returns how many (serve's purge job).
    int purgeAppliedKeys(int limit, Deadline deadline = noDeadline());

    IntakeSpool& spool() { return spool_; }

    using Event = decltype(SpoolRecord::event);
    static EventResult applyIn(Connection& c, int64_t nowMs, const Event& event);

  private:
    IntakeOutcome submit(Event event, bool conditional, Deadline deadline);
    IntakeOutcome spoolIt(Event event, std::string why);

    GroupCommitWriter& writer_;
    const Clock& clock_;
    IntakeSpool& spool_;
    OfflineAdmissions* offline_;
};

}  // namespace calltrack::db
