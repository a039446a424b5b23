#pragma once
// Admission: decides, in one write transaction, whether a call may start.
// A call is admitted only if its client is enabled and under its own limit
// and the system is under the global limit; the slot it takes is a token the
// database itself guards (schema.sql, "Limit guard").

#include "db/Clock.h"
#include "db/calls/Call.h"
#include "db/storage/Connection.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/tenants/Client.h"

#include <functional>
#include <optional>
#include <string>

namespace calltrack::db {

enum class Refusal {
    none,
    unknown_client,
    client_disabled,
    client_limit_reached,
    global_limit_reached,
    bot_unavailable,  // the client needs a bot and none is warm with free capacity
};
const char* nameOf(Refusal refusal);

struct AdmitRequest {
    std::string clientId;
    std::optional<std::string> externalId{};  // generated when absent
    std::string provider = "api";
    std::optional<std::string> metadataJson{};
    std::string source = "api";  // who asked: api, cli, ...
    // The provider's id, when it is known at admission (the inbound gate:
    // the CallSid). Otherwise bound later (ProviderCallEvents::bind).
    std::optional<std::string> providerCallId{};
    bool externalIdGenerated = false;  // set by validate()
    // Admitted by a process while the database was unavailable, written
    // now (EventIntake replay): if its slot is gone it is written without
    // one and flagged (would_refuse), instead of refused.
    bool admittedOffline = false;
};

struct AdmitResult {
    enum class Outcome {
        admitted,  // a new call
        existing,  // (client, external_id) was admitted before: that call, counted once
        refused,
        // The provider already reported the call ended (before this
        // admission, or since an earlier one): the ended call, no slot. A
        // dialer must not dial it.
        already_ended,
    };
    Outcome outcome = Outcome::refused;
    Refusal refusal = Refusal::none;
    std::optional<Call> call{};
    Usage client;
    Usage global;
    // Set when the client needed a bot and none was free (refused, or in
    // observe mode admitted without one): the scheduler should warm more.
    bool botShortage = false;
    std::optional<int64_t> retryAfterMs{};  // a hint for refusals
};

class AdmissionEngine {
  public:
    AdmissionEngine(GroupCommitWriter& writer, const Clock& clock)
        : writer_(writer), clock_(clock) {}

    // Validates (throws EngineError invalid_argument), then admits through the
    // writer. Throws EngineError busy / storage_failure / deadline_exceeded.
    AdmitResult admit(AdmitRequest request, Deadline deadline = noDeadline());

    // Called (outside the transaction) after an admission found no free bot,
    // so that the bot scheduler can warm one at once. Set before the engine
    // is shared between threads; the callback must be thread-safe.
    void onBotShortage(std::function<void(const std::string& clientId)> callback) {
        botShortage_ = std::move(callback);
    }
    // For callers that run admitIn themselves (batches): reports a shortage
    // the way admit() does.
    void reportBotShortage(const std::string& clientId) const {
        if (botShortage_) botShortage_(clientId);
    }

    // The transaction body, for callers that compose several operations into
    // one writer op (batches). `request` must have been validated.
    static AdmitResult admitIn(Connection& c, int64_t nowMs, const AdmitRequest& request);
    // Checks ids, provider and metadata; fills in a generated external id.
    static void validate(AdmitRequest& request);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
    std::function<void(const std::string&)> botShortage_;
};

}  // namespace calltrack::db
