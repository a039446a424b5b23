#pragma once
// Standard Webhooks signatures (standardwebhooks.com), used by generic JSON
// senders: webhook-signature holds space-separated "v1,<Base64(HMAC-SHA256(key,
// "{webhook-id}.{webhook-timestamp}.{body}"))>" entries, and the key is written
// "whsec_<Base64 key>". The timestamp is signed and must be recent, so a captured
// request cannot be replayed later; the caller passes the current time in.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace calltrack::api {

// Why a request was accepted or refused. Only `ok` accepts; the others are
// kept apart for logs, since a malformed secret is our bug and a stale
// timestamp is usually the sender's clock or a replay.
enum class StandardWebhookVerdict {
    ok,
    malformed_secret,            // the configured secret is not whsec_<Base64 of 1+ bytes>
    missing_header,              // webhook-id, webhook-timestamp or webhook-signature is empty
    malformed_timestamp,         // webhook-timestamp is not plain decimal Unix seconds
    timestamp_out_of_tolerance,  // webhook-timestamp is too far from now, either way
    no_matching_signature,       // no v1 entry signs this id, timestamp and body
};

std::string_view nameOf(StandardWebhookVerdict verdict);

// The three headers as received; an absent header is an empty view.
struct StandardWebhookHeaders {
    std::string_view id;
    std::string_view timestamp;
    std::string_view signature;
};

class StandardWebhookSignature {
  public:
    // The reference implementations' default.
    static constexpr std::chrono::seconds defaultTolerance{5 * 60};

    static StandardWebhookVerdict verify(std::string_view secret,
                                         const StandardWebhookHeaders& headers,
                                         std::string_view body, std::int64_t nowSeconds,
                                         std::chrono::seconds tolerance = defaultTolerance);

    // The webhook-signature value a sender would send ("v1,<Base64>"), for docs
    // and the CLI. Throws std::invalid_argument if `secret` is malformed.
    static std::string sign(std::string_view secret, std::string_view id,
                            std::int64_t timestampSeconds, std::string_view body);
};

}  // namespace calltrack::api
