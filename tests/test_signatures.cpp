// Webhook signatures checked against values made elsewhere: the vectors in
// Twilio's SDK tests and the Standard Webhooks specification, and a few computed
// with Node.js. Never against our own signer: a signer and a verifier written
// together can agree on the same mistake.

#include "api/webhooks/Base64.h"
#include "api/webhooks/Hmac.h"
#include "api/webhooks/StandardWebhookSignature.h"
#include "api/webhooks/TwilioSignature.h"

#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>

using namespace calltrack::api;
using namespace std::string_literals;

// doctest prints values through StringMaker; this shows verdict names, not ints.
template <>
struct doctest::StringMaker<StandardWebhookVerdict> {
    static doctest::String convert(StandardWebhookVerdict verdict) {
        return std::string(nameOf(verdict)).c_str();
    }
};

namespace {

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char ch : bytes) {
        out += digits[ch >> 4];
        out += digits[ch & 0x0F];
    }
    return out;
}

// Twilio SDK test vectors.
const std::string twilioToken = "12345";
const std::string twilioUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
const std::string twilioUrlWithPort = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
const TwilioSignature::FormParams twilioParams = {
    {"CallSid", "CA1234567890ABCDE"}, {"Caller", "+14158675309"}, {"Digits", "1234"},
    {"From", "+14158675309"},         {"To", "+18005551212"},
};
const std::string twilioBasicSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const std::string twilioWithPortSignature = "kvajT1Ptam85bY51eRf/AJRuM3w=";
const std::string twilioJsonBody = R"({"property": "value", "boolean": true})";
const std::string twilioJsonBodyHash =
    "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const std::string twilioJsonUrl = twilioUrl + "&bodySHA256=" + twilioJsonBodyHash;
const std::string twilioJsonSignature = "a9nBmqA0ju/hNViExpshrM61xv4=";

// Standard Webhooks specification test vector.
const std::string whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string whId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const std::string whTimestamp = "1614265330";
constexpr std::int64_t whNow = 1614265330;
const std::string whBody = R"({"test": 2432232314})";
const std::string whSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

StandardWebhookVerdict verifyWh(std::string_view secret, std::string_view id,
                                std::string_view timestamp, std::string_view signature,
                                std::string_view body = whBody, std::int64_t now = whNow) {
    return StandardWebhookSignature::verify(secret, {id, timestamp, signature}, body, now);
}

}  // namespace

TEST_CASE("Base64 matches the RFC 4648 vectors both ways") {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [bytes, text] : vectors) {
        CAPTURE(bytes);
        CHECK(Base64::encode(bytes) == text);
        CHECK(Base64::decode(text) == std::optional<std::string>(bytes));
    }
}

TEST_CASE("Base64 round-trips every byte value at every padding length") {
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    for (std::size_t length : {253u, 254u, 255u, 256u}) {
        const std::string bytes = all.substr(0, length);
        const std::string text = Base64::encode(bytes);
        CHECK(text.size() % 4 == 0);
        CHECK(Base64::decode(text) == std::optional<std::string>(bytes));
    }
    CHECK(Base64::encode("\xfb\xff"s) == "+/8=");
}

TEST_CASE("Base64 decode rejects everything that is not a canonical encoding") {
    const std::string invalid[] = {
        "Zg=",          // length not a multiple of 4
        "Zg",           // padding left out
        "Z===",         // three padding characters
        "====",         // nothing but padding
        "Zg==Zg==",     // padding in the middle
        "Zm=v",         // '=' before a digit
        "Zh==",         // unused bits not zero ("Zg==" is the encoding of "f")
        "Zm9=",         // unused bits not zero ("Zm8=" is the encoding of "fo")
        "Zm9v!A==",     // not in the alphabet
        "Zm9v\n",       // whitespace
        " Zm9v",        // whitespace
        "-_8=",         // URL-safe alphabet
        "Zm9v\0Zm9v"s,  // embedded NUL
    };
    for (const auto& text : invalid) {
        CAPTURE(text);
        CHECK_FALSE(Base64::decode(text).has_value());
    }
}

TEST_CASE("HMAC and SHA-256 match the RFC test vectors") {
    // RFC 2202 test case 2, RFC 4231 test case 2, FIPS 180-2 "abc".
    CHECK(hex(hmacSha1("Jefe", "what do ya want for nothing?")) ==
          "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    CHECK(hex(hmacSha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // An empty key is a valid HMAC key (RFC 2104 pads it with zeros).
    CHECK(hex(hmacSha256("", "")) ==
          "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("macEquals compares content and length") {
    CHECK(macEquals("abc", "abc"));
    CHECK_FALSE(macEquals("abc", "abd"));
    CHECK_FALSE(macEquals("abc", "ab"));
    CHECK_FALSE(macEquals("abc", ""));
}

TEST_CASE("Twilio: the SDK's basic vector") {
    CHECK(TwilioSignature::compute(twilioToken, twilioUrl, twilioParams) == twilioBasicSignature);
    CHECK(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrl, twilioParams));

    // Parameter order on the wire does not matter: they are sorted by name.
    TwilioSignature::FormParams reversed(twilioParams.rbegin(), twilioParams.rend());
    CHECK(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrl, reversed));
}

TEST_CASE("Twilio: the SDK's vector with port 443, and the port added or removed") {
    CHECK(TwilioSignature::compute(twilioToken, twilioUrlWithPort, twilioParams) ==
          twilioWithPortSignature);
    CHECK(TwilioSignature::verify(twilioToken, twilioWithPortSignature, twilioUrlWithPort,
                                  twilioParams));
    // Signed with the port, configured without it, and the other way round.
    CHECK(TwilioSignature::verify(twilioToken, twilioWithPortSignature, twilioUrl, twilioParams));
    CHECK(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrlWithPort,
                                  twilioParams));

    // Only the scheme's default port is interchangeable with none.
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature,
                                        "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                        twilioParams));
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature,
                                        "https://mycompany.com:80/myapp.php?foo=1&bar=2",
                                        twilioParams));
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature,
                                        "http://mycompany.com/myapp.php?foo=1&bar=2",
                                        twilioParams));
}

TEST_CASE("Twilio: default port 80 for http, and IPv6 and user-info hosts") {
    // Signatures computed by Node.js 20 crypto.createHmac("sha1", "12345") over
    // each URL with no parameters: one request, written without and with its port.
    struct SameRequest {
        std::string without, signedWithout, with, signedWith;
    };
    const SameRequest requests[] = {
        {"http://example.com/cb", "1MjtSjramBgK8L3G6qrL5THsl2M=", "http://example.com:80/cb",
         "b2dmgOMzdW6nCIml3VJwC9UIhu4="},
        {"HTTPS://example.com?x=1", "dIv6z8McQAweErYpRG6sYfRwYOs=", "HTTPS://example.com:443?x=1",
         "F3C2s70hOHe0zOa8764UA3QiLe4="},
        {"https://[2001:db8::1]/cb", "F0oZj5PWD9Q23AapmO2sxD7pgMw=", "https://[2001:db8::1]:443/cb",
         "Q50hCGIEJ/bFNjOSDdHGZASLZ7g="},
        {"https://user:pw@example.com/cb", "4q5LmUP9RLfXqzNOe4K7FvNSqi4=",
         "https://user:pw@example.com:443/cb", "XyUmECoE80HkRQgGmVZbewIaIHI="},
        {"https://example.com", "ieVG2B5SgzqCePC8rBU5pmQP7hU=", "https://example.com:443",
         "fREkL35/aD4LpcsnbmSobI/G0Xw="},
    };
    for (const auto& r : requests) {
        CAPTURE(r.without);
        CHECK(TwilioSignature::verify(twilioToken, r.signedWithout, r.without, {}));
        CHECK(TwilioSignature::verify(twilioToken, r.signedWith, r.with, {}));
        CHECK(TwilioSignature::verify(twilioToken, r.signedWithout, r.with, {}));
        CHECK(TwilioSignature::verify(twilioToken, r.signedWith, r.without, {}));
    }
    // Other schemes have no default port to add: "ftp://example.com:80/cb".
    CHECK_FALSE(TwilioSignature::verify(
        twilioToken, "jd5+gWF6bwNoxQlSb2TC8B67Cng=", "ftp://example.com/cb", {}));
}

TEST_CASE("Twilio: the SDK's repeated-values vector") {
    const TwilioSignature::FormParams params = {
        {"Sid", "CA123"},   {"SidAccount", "AC123"}, {"Digits", "5678"},
        {"Digits", "1234"}, {"Digits", "1234"},
    };
    const std::string signature = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
    CHECK(TwilioSignature::compute(twilioToken, twilioUrl, params) == signature);
    CHECK(TwilioSignature::verify(twilioToken, signature, twilioUrl, params));

    // The duplicate "1234" is dropped, so leaving it out signs the same...
    TwilioSignature::FormParams deduplicated(params.begin(), params.end() - 1);
    CHECK(TwilioSignature::verify(twilioToken, signature, twilioUrl, deduplicated));
    // ...but a different value is not the same request.
    TwilioSignature::FormParams changed = params;
    changed.back().second = "9999";
    CHECK_FALSE(TwilioSignature::verify(twilioToken, signature, twilioUrl, changed));
}

TEST_CASE("Twilio: names and values sort by UTF-16 code units, as twilio-node sorts") {
    // Expected value computed by Node.js 20 (crypto.createHmac, Array.prototype.sort,
    // new Set), following twilio-node's getExpectedTwilioSignature. U+FF5E sorts
    // after U+1F600 in UTF-16 but before it in UTF-8 bytes; likewise U+E000 and
    // U+10000. Sorting UTF-8 bytes gives aVpATGnIwq6pY5aPvcMaJpiJJ7E= instead.
    const TwilioSignature::FormParams params = {
        {"a\xEF\xBD\x9E", "1"},      // "a" U+FF5E
        {"a\xF0\x9F\x98\x80", "2"},  // "a" U+1F600
        {"x", "\xEE\x80\x80"},       // U+E000
        {"x", "\xF0\x90\x80\x80"},   // U+10000
        {"x", "\xEE\x80\x80"},
    };
    CHECK(TwilioSignature::compute(twilioToken, twilioUrl, params) ==
          "SmS1rPYIb3W/yathatAxBfZKBpA=");
}

TEST_CASE("Twilio: wrong token, tampered request or bad header fail") {
    CHECK_FALSE(TwilioSignature::verify("12346", twilioBasicSignature, twilioUrl, twilioParams));
    CHECK_FALSE(TwilioSignature::verify("", twilioBasicSignature, twilioUrl, twilioParams));

    TwilioSignature::FormParams tampered = twilioParams;
    tampered[2].second = "1235";
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrl, tampered));
    TwilioSignature::FormParams extra = twilioParams;
    extra.emplace_back("CallStatus", "completed");
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrl, extra));
    TwilioSignature::FormParams missing(twilioParams.begin(), twilioParams.end() - 1);
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature, twilioUrl, missing));
    CHECK_FALSE(TwilioSignature::verify(twilioToken, twilioBasicSignature,
                                        "https://mycompany.com/myapp.php?foo=1&bar=3",
                                        twilioParams));

    const std::string badHeaders[] = {
        "",
        "RSOYDt4T1cUTdK1PDd93/VVr8B9=",   // one character changed
        "RSOYDt4T1cUTdK1PDd93/VVr8B8",    // padding dropped
        " RSOYDt4T1cUTdK1PDd93/VVr8B8=",  // whitespace
        "not base64 at all!",
        twilioWithPortSignature + twilioBasicSignature,
    };
    for (const auto& header : badHeaders) {
        CAPTURE(header);
        CHECK_FALSE(TwilioSignature::verify(twilioToken, header, twilioUrl, twilioParams));
    }
}

TEST_CASE("Twilio: the SDK's JSON-body vector") {
    CHECK(sha256Hex(twilioJsonBody) == twilioJsonBodyHash);
    CHECK(TwilioSignature::compute(twilioToken, twilioJsonUrl, {}) == twilioJsonSignature);
    CHECK(TwilioSignature::verifyJsonBody(twilioToken, twilioJsonSignature, twilioJsonUrl,
                                          twilioJsonBody));
    const std::string withPort =
        "https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256=" + twilioJsonBodyHash;
    CHECK(TwilioSignature::verifyJsonBody(twilioToken, twilioJsonSignature, withPort,
                                          twilioJsonBody));
}

TEST_CASE("Twilio: JSON body tampered, hash missing or signature wrong fails") {
    // The URL (and so the signature) is intact; only the body changed.
    CHECK_FALSE(TwilioSignature::verifyJsonBody(twilioToken, twilioJsonSignature, twilioJsonUrl,
                                                R"({"property": "value", "boolean": false})"));
    CHECK_FALSE(TwilioSignature::verifyJsonBody(twilioToken, twilioJsonSignature, twilioJsonUrl,
                                                twilioJsonBody + " "));
    // The body matches its hash but the signature does not cover this URL.
    CHECK_FALSE(TwilioSignature::verifyJsonBody("12346", twilioJsonSignature, twilioJsonUrl,
                                                twilioJsonBody));
    CHECK_FALSE(TwilioSignature::verifyJsonBody(twilioToken, twilioBasicSignature, twilioJsonUrl,
                                                twilioJsonBody));
    // No bodySHA256 parameter: nothing ties the body to the signature.
    const std::string signedNoHash = "zYQTYrRWXE7LtzbG4PfP7/bkkGo=";  // Node.js, as below
    CHECK(TwilioSignature::verify(twilioToken, signedNoHash, twilioUrl, {}));
    CHECK_FALSE(
        TwilioSignature::verifyJsonBody(twilioToken, signedNoHash, twilioUrl, twilioJsonBody));
    // The hash must be lowercase hex, and the parameter named exactly bodySHA256.
    // Each URL's signature is valid (computed by Node.js 20 crypto.createHmac).
    std::string upper = twilioJsonBodyHash;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    CHECK_FALSE(TwilioSignature::verifyJsonBody(
        twilioToken, "KF9uuYbODKamvlRt1B1bFONb+Q8=", twilioUrl + "&bodySHA256=" + upper,
        twilioJsonBody));
    CHECK_FALSE(TwilioSignature::verifyJsonBody(twilioToken, "iQZuzMgbSUzjt0cGXkZiR7cwPVI=",
                                                twilioUrl + "&xbodySHA256=" + twilioJsonBodyHash,
                                                twilioJsonBody));
}

TEST_CASE("Standard Webhooks: the specification's vector") {
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature) == StandardWebhookVerdict::ok);
    // sign() is checked against the vector here; it is never used to make
    // the signatures that verify() is tested with.
    CHECK(StandardWebhookSignature::sign(whSecret, whId, whNow, whBody) == whSignature);
}

TEST_CASE("Standard Webhooks: any v1 entry in the list may match") {
    const std::string other = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=";
    CHECK(verifyWh(whSecret, whId, whTimestamp, other + " " + whSignature) ==
          StandardWebhookVerdict::ok);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature + " " + other) ==
          StandardWebhookVerdict::ok);
    CHECK(verifyWh(whSecret, whId, whTimestamp, "v1a,xyz  " + whSignature + " ") ==
          StandardWebhookVerdict::ok);
    // The same signature under another version tag is not a v1 signature.
    const std::string asV2 = "v2," + whSignature.substr(3);
    CHECK(verifyWh(whSecret, whId, whTimestamp, asV2) ==
          StandardWebhookVerdict::no_matching_signature);
}

TEST_CASE("Standard Webhooks: tampered content or wrong secret has no matching signature") {
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, R"({"test": 2432232315})") ==
          StandardWebhookVerdict::no_matching_signature);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, "") ==
          StandardWebhookVerdict::no_matching_signature);
    CHECK(verifyWh(whSecret, "msg_p5jXN8AQM9LWM0D4loKWxJeK", whTimestamp, whSignature) ==
          StandardWebhookVerdict::no_matching_signature);
    // A signed timestamp one second later, still within tolerance.
    CHECK(verifyWh(whSecret, whId, "1614265331", whSignature) ==
          StandardWebhookVerdict::no_matching_signature);
    CHECK(verifyWh("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", whId, whTimestamp, whSignature) ==
          StandardWebhookVerdict::no_matching_signature);
}

TEST_CASE("Standard Webhooks: garbage in the signature header has no matching signature") {
    const std::string garbage[] = {
        "v1,!!!not base64!!!",
        "v1,",
        "v1",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",    // version tag missing
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",  // padding dropped
        "v1, g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x",
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        " ",
    };
    for (const auto& header : garbage) {
        CAPTURE(header);
        CHECK(verifyWh(whSecret, whId, whTimestamp, header) ==
              StandardWebhookVerdict::no_matching_signature);
    }
}

TEST_CASE("Standard Webhooks: the timestamp must be within 5 minutes either way") {
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, whNow + 300) ==
          StandardWebhookVerdict::ok);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, whNow - 300) ==
          StandardWebhookVerdict::ok);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, whNow + 301) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, whNow + 360) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, whNow - 360) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);
    // Extreme clocks must not overflow into acceptance.
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, INT64_MIN) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);
    CHECK(verifyWh(whSecret, whId, whTimestamp, whSignature, whBody, INT64_MAX) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);

    using std::chrono::seconds;
    const StandardWebhookHeaders headers{whId, whTimestamp, whSignature};
    CHECK(StandardWebhookSignature::verify(whSecret, headers, whBody, whNow + 360, seconds(600)) ==
          StandardWebhookVerdict::ok);
    CHECK(StandardWebhookSignature::verify(whSecret, headers, whBody, whNow + 1, seconds(0)) ==
          StandardWebhookVerdict::timestamp_out_of_tolerance);
    CHECK(StandardWebhookSignature::verify(whSecret, headers, whBody, whNow, seconds(0)) ==
          StandardWebhookVerdict::ok);
}

TEST_CASE("Standard Webhooks: missing headers") {
    CHECK(verifyWh(whSecret, "", whTimestamp, whSignature) ==
          StandardWebhookVerdict::missing_header);
    CHECK(verifyWh(whSecret, whId, "", whSignature) == StandardWebhookVerdict::missing_header);
    CHECK(verifyWh(whSecret, whId, whTimestamp, "") == StandardWebhookVerdict::missing_header);
}

TEST_CASE("Standard Webhooks: malformed timestamps") {
    const std::string malformed[] = {
        "abc",         "161426533O",  "-1614265330", "+1614265330",          "1614265330.0",
        " 1614265330", "1614265330 ", "01614265330", "99999999999999999999", "1.6e9",
    };
    for (const auto& timestamp : malformed) {
        CAPTURE(timestamp);
        CHECK(verifyWh(whSecret, whId, timestamp, whSignature) ==
              StandardWebhookVerdict::malformed_timestamp);
    }
}

TEST_CASE("Standard Webhooks: malformed secrets") {
    const std::string malformed[] = {
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",          // prefix missing
        "whsec_",                                    // empty key
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",     // truncated Base64
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",  // trailing newline from a file
        "whsec_not a base64 key!",
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    };
    for (const auto& secret : malformed) {
        CAPTURE(secret);
        CHECK(verifyWh(secret, whId, whTimestamp, whSignature) ==
              StandardWebhookVerdict::malformed_secret);
        CHECK_THROWS_AS(StandardWebhookSignature::sign(secret, whId, whNow, whBody),
                        std::invalid_argument);
    }
    // The secret is checked first: it is our configuration, not the sender's input.
    CHECK(verifyWh("whsec_", "", "", "") == StandardWebhookVerdict::malformed_secret);
}

TEST_CASE("Standard Webhooks: every verdict has a distinct name") {
    CHECK(nameOf(StandardWebhookVerdict::ok) == "ok");
    CHECK(nameOf(StandardWebhookVerdict::malformed_secret) == "malformed_secret");
    CHECK(nameOf(StandardWebhookVerdict::missing_header) == "missing_header");
    CHECK(nameOf(StandardWebhookVerdict::malformed_timestamp) == "malformed_timestamp");
    CHECK(nameOf(StandardWebhookVerdict::timestamp_out_of_tolerance) ==
          "timestamp_out_of_tolerance");
    CHECK(nameOf(StandardWebhookVerdict::no_matching_signature) == "no_matching_signature");
}
