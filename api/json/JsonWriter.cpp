#include "api/json/JsonWriter.h"

#include <charconv>
#include <stdexcept>

namespace calltrack::api {

void JsonWriter::appendString(std::string& out, std::string_view text) {
    // Printable ASCII needs no more than quotes and backslashes escaped; any
    // other byte (controls, UTF-8 that must be checked) goes to nlohmann's
    // serializer, so both paths escape exactly alike.
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x80) {
            out += nlohmann::json(std::string(text))
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            return;
        }
    }
    out.reserve(out.size() + text.size() + 2);
    out += '"';
    size_t plain = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '"' && text[i] != '\\') continue;
        out.append(text, plain, i - plain);
        out += '\\';
        out += text[i];
        plain = i + 1;
    }
    out.append(text, plain);
    out += '"';
}

void JsonWriter::separate() {
    if (afterKey_) {
        afterKey_ = false;
        return;
    }
    if (depth_ == 0) {
        if (topLevelDone_) throw std::logic_error("JsonWriter: a second top-level value");
        topLevelDone_ = true;
        return;
    }
    if (inObject()) throw std::logic_error("JsonWriter: a value in an object without its key");
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (nonEmpty_ & bit) out_ += ',';
    nonEmpty_ |= bit;
}

void JsonWriter::begin(char bracket, bool object) {
    // Checked before separate() changes anything: a refused call leaves the
    // writer as it was.
    if (depth_ >= 64) throw std::logic_error("JsonWriter: nesting deeper than 64");
    separate();
    out_ += bracket;
    ++depth_;
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    nonEmpty_ &= ~bit;
    isObject_ = object ? (isObject_ | bit) : (isObject_ & ~bit);
}

void JsonWriter::end(char bracket, bool object) {
    if (depth_ == 0 || inObject() != object || afterKey_)
        throw std::logic_error(std::string("JsonWriter: '") + bracket +
                               "' without its begin, or after a key without its value");
    out_ += bracket;
    --depth_;
}

JsonWriter& JsonWriter::beginObject() {
    begin('{', true);
    return *this;
}

JsonWriter& JsonWriter::endObject() {
    end('}', true);
    return *this;
}

JsonWriter& JsonWriter::beginArray() {
    begin('[', false);
    return *this;
}

JsonWriter& JsonWriter::endArray() {
    end(']', false);
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    if (!inObject() || afterKey_)
        throw std::logic_error("JsonWriter: a key outside an object, or two keys in a row");
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (nonEmpty_ & bit) out_ += ',';
    nonEmpty_ |= bit;
    appendString(out_, name);
    out_ += ':';
    afterKey_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    separate();
    appendString(out_, text);
    return *this;
}

JsonWriter& JsonWriter::value(int64_t number) {
    separate();
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
    out_.append(buf, end);
    return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::value(double number) {
    // nlohmann's shortest round-trip form (with its ".0" and null for
    // non-finite values), so a number reads back as the same double.
    separate();
    out_ += nlohmann::json(number).dump();
    return *this;
}

JsonWriter& JsonWriter::value(std::nullptr_t) {
    separate();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::value(const nlohmann::json& any) {
    separate();
    // A failed parse (parse(..., false)) dumps as "<discarded>": not JSON.
    if (any.is_discarded()) {
        out_ += "null";
        return *this;
    }
    out_ += any.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return *this;
}

JsonWriter& JsonWriter::rawValue(std::string_view json) {
    if (json.empty()) throw std::logic_error("JsonWriter: an empty raw value");
    separate();
    out_ += json;
    return *this;
}

}  // namespace calltrack::api
