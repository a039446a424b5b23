#pragma once
// Base64 as RFC 4648 section 4 defines it (standard alphabet, '=' padding): the
// encoding of Twilio and Standard Webhooks signatures and of webhook secrets.
// Decoding is strict on purpose: a lenient decoder would turn a mistyped secret
// into some other key and every signature would fail with no hint why.

#include <optional>
#include <string>
#include <string_view>

namespace calltrack::api {

class Base64 {
  public:
    static std::string encode(std::string_view bytes);
    // nullopt unless `text` is the one canonical encoding of some bytes: length a
    // multiple of 4, only A-Z a-z 0-9 + /, at most two '=' and only at the end,
    // unused trailing bits zero, no whitespace.
    static std::optional<std::string> decode(std::string_view text);
};

}  // namespace calltrack::api
