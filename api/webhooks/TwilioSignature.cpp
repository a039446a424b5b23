#include "api/webhooks/TwilioSignature.h"

#include "api/webhooks/Base64.h"
#include "api/webhooks/Hmac.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

namespace calltrack::api {

namespace {

// twilio-node sorts names and values with JavaScript's default sort, which
// compares UTF-16 code units, not code points: U+E000..U+FFFF sort after every
// character beyond U+FFFF, whose first code unit is a surrogate (D800..DBFF).
// Comparing UTF-8 bytes would disagree exactly there, so compare code points
// with that range moved above all others. Bytes that are not UTF-8 get keys of
// their own so that distinct strings never compare equal.
constexpr std::uint32_t aboveAllCodePoints = 0x110000;
constexpr std::uint32_t invalidByteKeys = 2 * aboveAllCodePoints;

std::uint32_t nextSortKey(std::string_view s, std::size_t& i) {
    const auto byteAt = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byteAt(i);
    std::size_t length = 0;
    std::uint32_t codePoint = 0;
    std::uint32_t minimum = 0;
    if (lead < 0x80) {
        ++i;
        return lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, codePoint = lead & 0x1F, minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, codePoint = lead & 0x0F, minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, codePoint = lead & 0x07, minimum = 0x10000;
    }
    bool valid = length != 0 && i + length <= s.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
        valid = (byteAt(i + k) & 0xC0) == 0x80;
        codePoint = codePoint << 6 | (byteAt(i + k) & 0x3F);
    }
    valid = valid && codePoint >= minimum && codePoint <= 0x10FFFF &&
            !(codePoint >= 0xD800 && codePoint <= 0xDFFF);
    if (!valid) {
        ++i;
        return invalidByteKeys + lead;
    }
    i += length;
    return codePoint >= 0xE000 && codePoint <= 0xFFFF ? codePoint + aboveAllCodePoints : codePoint;
}

bool utf16Less(std::string_view a, std::string_view b) {
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        const std::uint32_t keyA = nextSortKey(a, i);
        const std::uint32_t keyB = nextSortKey(b, j);
        if (keyA != keyB) return keyA < keyB;
    }
    return i == a.size() && j < b.size();
}

// `url` with its default port written out or left out, whichever it is not;
// nullopt when it has another port or a scheme other than http and https.
std::optional<std::string> withDefaultPortToggled(std::string_view url) {
    const std::size_t schemeEnd = url.find("://");
    if (schemeEnd == std::string_view::npos) return std::nullopt;
    std::string scheme(url.substr(0, schemeEnd));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    std::string_view defaultPort;
    if (scheme == "https") {
        defaultPort = "443";
    } else if (scheme == "http") {
        defaultPort = "80";
    } else {
        return std::nullopt;
    }

    const std::size_t authorityStart = schemeEnd + 3;
    const std::size_t authorityEnd = std::min(url.find_first_of("/?#", authorityStart), url.size());
    const std::string_view authority = url.substr(authorityStart, authorityEnd - authorityStart);
    const std::size_t userInfoEnd = authority.rfind('@');
    const std::size_t hostStart = userInfoEnd == std::string_view::npos ? 0 : userInfoEnd + 1;
    // An IPv6 literal ([::1]) has colons of its own; the port colon follows ']'.
    const std::size_t ipv6End = authority.find(']', hostStart);
    const std::size_t colon =
        authority.find(':', ipv6End == std::string_view::npos ? hostStart : ipv6End);

    std::string toggled(url.substr(0, authorityStart));
    if (colon == std::string_view::npos) {
        toggled.append(authority).append(":").append(defaultPort);
    } else if (authority.substr(colon + 1) == defaultPort) {
        toggled.append(authority.substr(0, colon));
    } else {
        return std::nullopt;
    }
    toggled.append(url.substr(authorityEnd));
    return toggled;
}

// The raw value of the first `name` parameter in the query string of `url`.
std::optional<std::string_view> queryParameter(std::string_view url, std::string_view name) {
    const std::size_t queryStart = url.find('?');
    if (queryStart == std::string_view::npos) return std::nullopt;
    std::string_view query = url.substr(queryStart + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const std::size_t end = std::min(query.find('&'), query.size());
        const std::string_view field = query.substr(0, end);
        const std::size_t equals = field.find('=');
        if (field.substr(0, equals) == name) {
            return equals == std::string_view::npos ? std::string_view() : field.substr(equals + 1);
        }
        query.remove_prefix(std::min(end + 1, query.size()));
    }
    return std::nullopt;
}

}  // namespace

std::string TwilioSignature::compute(std::string_view authToken, std::string_view url,
                                     const FormParams& params) {
    // Sorting by name then value and dropping equal pairs is twilio-node's
    // "names sorted; a repeated name's values de-duplicated and sorted".
    std::vector<const std::pair<std::string, std::string>*> sorted;
    sorted.reserve(params.size());
    for (const auto& param : params) sorted.push_back(&param);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
        if (a->first != b->first) return utf16Less(a->first, b->first);
        return utf16Less(a->second, b->second);
    });
    sorted.erase(std::unique(sorted.begin(), sorted.end(),
                             [](const auto* a, const auto* b) { return *a == *b; }),
                 sorted.end());

    std::string signedData(url);
    for (const auto* param : sorted) signedData.append(param->first).append(param->second);
    return Base64::encode(hmacSha1(authToken, signedData));
}

bool TwilioSignature::verify(std::string_view authToken, std::string_view signatureHeader,
                             std::string_view url, const FormParams& params) {
    if (macEquals(compute(authToken, url, params), signatureHeader)) return true;
    const std::optional<std::string> otherForm = withDefaultPortToggled(url);
    return otherForm && macEquals(compute(authToken, *otherForm, params), signatureHeader);
}

bool TwilioSignature::verifyJsonBody(std::string_view authToken, std::string_view signatureHeader,
                                     std::string_view url, std::string_view rawBody) {
    const std::optional<std::string_view> bodyHash = queryParameter(url, "bodySHA256");
    if (!bodyHash) return false;
    const bool bodyMatches = macEquals(sha256Hex(rawBody), *bodyHash);
    const bool urlMatches = verify(authToken, signatureHeader, url, {});
    return bodyMatches && urlMatches;
}

}  // namespace calltrack::api
