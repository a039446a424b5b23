#include "api/webhooks/StandardWebhookSignature.h"

#include "api/webhooks/Base64.h"
#include "api/webhooks/Hmac.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace calltrack::api {

namespace {

constexpr std::string_view secretPrefix = "whsec_";

std::optional<std::string> keyOf(std::string_view secret) {
    // The reference libraries also take the Base64 without the prefix; requiring
    // it catches a secret pasted from somewhere else, which may decode as Base64 by
    // accident and then fail every request as a bad signature.
    if (!secret.starts_with(secretPrefix)) return std::nullopt;
    std::optional<std::string> key = Base64::decode(secret.substr(secretPrefix.size()));
    if (!key || key->empty()) return std::nullopt;
    return key;
}

// Plain decimal only: no sign, no spaces, no leading zeros. The header text is
// what gets signed, so any second spelling of the same number would be a
// second signed message that the reference senders never produce.
std::optional<std::int64_t> parseTimestamp(std::string_view text) {
    if (text.empty() || (text.size() > 1 && text.front() == '0')) return std::nullopt;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return std::nullopt;
    }
    std::int64_t seconds = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return seconds;
}

// |a - b| without overflow for any two int64 values.
std::uint64_t distance(std::int64_t a, std::int64_t b) {
    const auto ua = static_cast<std::uint64_t>(a);
    const auto ub = static_cast<std::uint64_t>(b);
    return a >= b ? ua - ub : ub - ua;
}

std::string signatureFor(std::string_view key, std::string_view id, std::string_view timestamp,
                         std::string_view body) {
    std::string signedContent;
    signedContent.reserve(id.size() + timestamp.size() + body.size() + 2);
    signedContent.append(id).append(".").append(timestamp).append(".").append(body);
    return Base64::encode(hmacSha256(key, signedContent));
}

}  // namespace

std::string_view nameOf(StandardWebhookVerdict verdict) {
    switch (verdict) {
        case StandardWebhookVerdict::ok:
            return "ok";
        case StandardWebhookVerdict::malformed_secret:
            return "malformed_secret";
        case StandardWebhookVerdict::missing_header:
            return "missing_header";
        case StandardWebhookVerdict::malformed_timestamp:
            return "malformed_timestamp";
        case StandardWebhookVerdict::timestamp_out_of_tolerance:
            return "timestamp_out_of_tolerance";
        case StandardWebhookVerdict::no_matching_signature:
            return "no_matching_signature";
    }
    return "unknown";
}

StandardWebhookVerdict StandardWebhookSignature::verify(std::string_view secret,
                                                        const StandardWebhookHeaders& headers,
                                                        std::string_view body,
                                                        std::int64_t nowSeconds,
                                                        std::chrono::seconds tolerance) {
    const std::optional<std::string> key = keyOf(secret);
    if (!key) return StandardWebhookVerdict::malformed_secret;
    if (headers.id.empty() || headers.timestamp.empty() || headers.signature.empty()) {
        return StandardWebhookVerdict::missing_header;
    }
    const std::optional<std::int64_t> timestamp = parseTimestamp(headers.timestamp);
    if (!timestamp) return StandardWebhookVerdict::malformed_timestamp;
    const auto allowedSkew =
        static_cast<std::uint64_t>(std::max<std::int64_t>(tolerance.count(), 0));
    if (distance(*timestamp, nowSeconds) > allowedSkew) {
        return StandardWebhookVerdict::timestamp_out_of_tolerance;
    }

    const std::string expected = signatureFor(*key, headers.id, headers.timestamp, body);
    // Several entries let a sender rotate its secret: it signs with old and new.
    std::string_view entries = headers.signature;
    while (!entries.empty()) {
        const std::size_t end = std::min(entries.find(' '), entries.size());
        const std::string_view entry = entries.substr(0, end);
        entries.remove_prefix(std::min(end + 1, entries.size()));
        const std::size_t comma = entry.find(',');
        if (comma == std::string_view::npos || entry.substr(0, comma) != "v1") continue;
        if (macEquals(expected, entry.substr(comma + 1))) return StandardWebhookVerdict::ok;
    }
    return StandardWebhookVerdict::no_matching_signature;
}

std::string StandardWebhookSignature::sign(std::string_view secret, std::string_view id,
                                           std::int64_t timestampSeconds, std::string_view body) {
    const std::optional<std::string> key = keyOf(secret);
    if (!key) throw std::invalid_argument("webhook secret must be whsec_<Base64 key>");
    return "v1," + signatureFor(*key, id, std::to_string(timestampSeconds), body);
}

}  // namespace calltrack::api
