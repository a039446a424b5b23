#pragma once
// Reads a JSON request body into typed fields; every mistake becomes a 400
// (or 415) ApiError whose message names the field.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace calltrack::api {

class JsonBody {
  public:
    // Parses `body` (must be a JSON object). `contentType` must be
    // application/json unless the body is empty and `allowEmpty`.
    JsonBody(const std::string& contentType, const std::string& body, bool allowEmpty = false);

    std::optional<std::string> text(const char* field, size_t maxLength = 1024) const;
    std::string requiredText(const char* field, size_t maxLength = 1024) const;
    std::optional<int64_t> integer(const char* field, int64_t min = INT64_MIN,
                                   int64_t max = INT64_MAX) const;
    int64_t requiredInteger(const char* field, int64_t min = INT64_MIN,
                            int64_t max = INT64_MAX) const;
    std::optional<bool> boolean(const char* field) const;
    // The field re-serialised as JSON text (any JSON value), if present.
    std::optional<std::string> rawJson(const char* field) const;
    const nlohmann::json* object(const char* field) const;
    // Refuses (400 unknown_field, the field named) any field in neither
    // list: a typo such as "max_concurent" must not be silently ignored.
    // `prefix` names the enclosing object in the message ("twilio.").
    using Fields = std::initializer_list<std::string_view>;
    const JsonBody& allowOnly(Fields fields, Fields more = {},
                              const std::string& prefix = "") const;
    const nlohmann::json& json() const { return json_; }

  private:
    nlohmann::json json_;
};

}  // namespace calltrack::api
