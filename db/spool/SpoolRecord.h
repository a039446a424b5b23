#pragma once
// One event taken into the spool while the database could not take it: a
// verified provider webhook (Twilio, Standard Webhooks), an unconditional
// API event, end or heartbeat, or an admission granted offline. It carries
// everything needed to apply it later as it would have been applied then,
// but at the time of the replay: a call's expiry counts from when its event
// is applied, so a long outage cannot time calls out the moment the
// database returns (the provider's own time is kept as occurred_at). Its
// key is unique to this record (the ledger's key: spool_applied.key).
//
// Encoded as one JSON object (the payload of a spool frame, SpoolFile).
// decode() of a payload encode() wrote gives the same record back; any
// other payload throws EngineError invalid_argument.

#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/ProviderCallEvents.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace calltrack::db {

struct HeartbeatRequest {
    CallRef call;
    std::string source = "api";
};

struct SpoolRecord {
    std::string key;  // 32 hex digits, random: unique among all records of all processes
    int64_t receivedAtMs = 0;
    // AdmitRequest: an admission granted offline (admit_within_share).
    std::variant<TwilioEvent, StatusEvent, EndRequest, HeartbeatRequest, AdmitRequest> event;

    // "twilio", "status", "end", "heartbeat" or "admit".
    const char* kind() const;
    // The call it is about, for logs: "id:42" or "client/external" or "CallSid".
    std::string callLabel() const;

    static std::string encode(const SpoolRecord& record);
    static SpoolRecord decode(std::string_view payload);
    // A fresh random key (from the kernel's CSPRNG).
    static std::string newKey();
};

}  // namespace calltrack::db
