#include "api/json/JsonBody.h"

#include "api/http/ApiError.h"

namespace calltrack::api {

namespace {
bool isJsonContentType(const std::string& contentType) {
    // "application/json" with optional parameters (charset=utf-8).
    const auto semi = contentType.find(';');
    std::string base = contentType.substr(0, semi);
    while (!base.empty() && base.back() == ' ') base.pop_back();
    for (auto& ch : base) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return base == "application/json";
}
}  // namespace

JsonBody::JsonBody(const std::string& contentType, const std::string& body, bool allowEmpty) {
    if (body.empty() && allowEmpty) {
        json_ = nlohmann::json::object();
        return;
    }
    if (!isJsonContentType(contentType)) {
        throw ApiError(415, "unsupported_media_type", "the body must be application/json");
    }
    json_ = nlohmann::json::parse(body, nullptr, false);
    if (json_.is_discarded()) throw ApiError(400, "malformed_json", "the body is not valid JSON");
    if (!json_.is_object()) throw ApiError(400, "malformed_json", "the body must be a JSON object");
}

std::optional<std::string> JsonBody::text(const char* field, size_t maxLength) const {
    auto it = json_.find(field);
    if (it == json_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw ApiError::badRequest(std::string(field) + " must be a string");
    auto value = it->get<std::string>();
    if (value.size() > maxLength) {
        throw ApiError::badRequest(std::string(field) + " must be at most " +
                                   std::to_string(maxLength) + " bytes");
    }
    return value;
}

std::string JsonBody::requiredText(const char* field, size_t maxLength) const {
    auto value = text(field, maxLength);
    if (!value) throw ApiError::badRequest(std::string(field) + " is required");
    return *value;
}

std::optional<int64_t> JsonBody::integer(const char* field, int64_t min, int64_t max) const {
    auto it = json_.find(field);
    if (it == json_.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer())
        throw ApiError::badRequest(std::string(field) + " must be an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw ApiError::badRequest(std::string(field) + " is out of range");
    }
    const auto value = it->get<int64_t>();
    if (value < min || value > max) {
        throw ApiError::badRequest(std::string(field) + " must be between " + std::to_string(min) +
                                   " and " + std::to_string(max));
    }
    return value;
}

int64_t JsonBody::requiredInteger(const char* field, int64_t min, int64_t max) const {
    auto value = integer(field, min, max);
    if (!value) throw ApiError::badRequest(std::string(field) + " is required");
    return *value;
}

std::optional<bool> JsonBody::boolean(const char* field) const {
    auto it = json_.find(field);
    if (it == json_.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean())
        throw ApiError::badRequest(std::string(field) + " must be true or false");
    return it->get<bool>();
}

std::optional<std::string> JsonBody::rawJson(const char* field) const {
    auto it = json_.find(field);
    if (it == json_.end() || it->is_null()) return std::nullopt;
    return it->dump();
}

const nlohmann::json* JsonBody::object(const char* field) const {
    auto it = json_.find(field);
    if (it == json_.end() || it->is_null()) return nullptr;
    if (!it->is_object()) throw ApiError::badRequest(std::string(field) + " must be an object");
    return &*it;
}

const JsonBody& JsonBody::allowOnly(Fields fields, Fields more, const std::string& prefix) const {
    for (const auto& [name, value] : json_.items()) {
        bool known = false;
        for (auto f : fields) known = known || f == name;
        for (auto f : more) known = known || f == name;
        if (known) continue;
        std::string list;
        for (auto group : {fields, more})
            for (auto f : group) list += (list.empty() ? "" : ", ") + std::string(f);
        throw ApiError::unknownField(
            "unknown field \"" + prefix + name + "\"" +
            (list.empty() ? ": this body takes no fields" : "; this body takes: " + list));
    }
    return *this;
}

}  // namespace calltrack::api
