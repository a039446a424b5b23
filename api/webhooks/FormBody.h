#pragma once
// application/x-www-form-urlencoded bodies (Twilio's webhooks), decoded into
// name/value pairs in the order sent, repeated names kept.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace calltrack::api {

class FormBody {
  public:
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    // nullopt for a malformed percent escape.
    static std::optional<Pairs> parse(std::string_view body);
    static const std::string* first(const Pairs& pairs, std::string_view name);
};

}  // namespace calltrack::api
