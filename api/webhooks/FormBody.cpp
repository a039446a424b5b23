#include "api/webhooks/FormBody.h"

namespace calltrack::api {

namespace {
int hexValue(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

std::optional<std::string> decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out.push_back(' ');
        } else if (text[i] == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hexValue(text[i + 1]), lo = hexValue(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}
}  // namespace

std::optional<FormBody::Pairs> FormBody::parse(std::string_view body) {
    Pairs pairs;
    size_t start = 0;
    while (start <= body.size()) {
        size_t end = body.find('&', start);
        if (end == std::string_view::npos) end = body.size();
        const std::string_view item = body.substr(start, end - start);
        if (!item.empty()) {
            const size_t eq = item.find('=');
            auto name = decode(item.substr(0, eq));
            auto value =
                decode(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1));
            if (!name || !value) return std::nullopt;
            pairs.emplace_back(std::move(*name), std::move(*value));
        }
        start = end + 1;
    }
    return pairs;
}

const std::string* FormBody::first(const Pairs& pairs, std::string_view name) {
    for (const auto& [n, v] : pairs)
        if (n == name) return &v;
    return nullptr;
}

}  // namespace calltrack::api
