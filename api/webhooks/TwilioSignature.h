#pragma once
// Twilio's X-Twilio-Signature header: Base64(HMAC-SHA1(auth token, the webhook
// URL followed by every POST parameter as name then value)). Twilio specifies the
// details only through its SDKs, so this follows twilio-node byte for byte: that
// is what the tests check against.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace calltrack::api {

class TwilioSignature {
  public:
    // Decoded application/x-www-form-urlencoded fields in any order; a name may repeat.
    using FormParams = std::vector<std::pair<std::string, std::string>>;

    // The header value Twilio sends for a POST of `params` to `url`. `url` is the
    // URL as configured in Twilio, query string included.
    static std::string compute(std::string_view authToken, std::string_view url,
                               const FormParams& params);

    // Whether `signatureHeader` signs this request, with `url` as given or with
    // the scheme's default port (https 443, http 80) added or removed: Twilio signs
    // some requests with the port and some without.
    static bool verify(std::string_view authToken, std::string_view signatureHeader,
                       std::string_view url, const FormParams& params);

    // For JSON bodies, which Twilio does not sign directly: `url` carries
    // bodySHA256=<hex SHA-256 of the body> in its query string and the signature
    // covers that URL with no parameters. Both must match.
    static bool verifyJsonBody(std::string_view authToken, std::string_view signatureHeader,
                               std::string_view url, std::string_view rawBody);
};

}  // namespace calltrack::api
