#pragma once
// Writes compact JSON text straight into a string, for the hot paths (the
// admission response, the access log line) where building an nlohmann DOM
// first costs an allocation per key and per value. The caller writes keys in
// the order it wants them; to keep responses byte-identical to an nlohmann
// dump, write an object's keys in byte order (std::map order).
//
// Invariant: the text is valid JSON once every begin has its end; a call that
// would break it (a value in an object without its key, a key in an array or
// twice, an end without its begin or of the other kind, a second top-level
// value, an empty raw value) throws std::logic_error instead. Strings are
// escaped as nlohmann dumps them with error_handler_t::replace (invalid UTF-8
// becomes U+FFFD), so output never depends on which path wrote it.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace calltrack::api {

class JsonWriter {
  public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& beginObject();
    JsonWriter& endObject();
    JsonWriter& beginArray();
    JsonWriter& endArray();
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(int64_t number);
    JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
    JsonWriter& value(bool flag);
    JsonWriter& value(double number);
    JsonWriter& value(std::nullptr_t);
    // Any DOM value, dumped as sendJson dumps it.
    JsonWriter& value(const nlohmann::json& any);
    template <class T>
    JsonWriter& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : value(nullptr);
    }
    // Text already known to be one complete JSON value.
    JsonWriter& rawValue(std::string_view json);

    // `text` as a JSON string literal, quotes included.
    static void appendString(std::string& out, std::string_view text);

  private:
    // Before any value: its separator, after the checks above.
    void separate();
    void begin(char bracket, bool object);
    void end(char bracket, bool object);
    bool inObject() const { return depth_ > 0 && (isObject_ >> (depth_ - 1) & 1); }

    std::string& out_;
    // Bit d is set when the container at depth d already holds an element
    // (nonEmpty_), or is an object (isObject_); deeper nesting than 64 is not
    // needed by any caller (checked).
    uint64_t nonEmpty_ = 0;
    uint64_t isObject_ = 0;
    int depth_ = 0;
    bool afterKey_ = false;
    bool topLevelDone_ = false;
};

}  // namespace calltrack::api
