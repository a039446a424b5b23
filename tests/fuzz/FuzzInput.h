#pragma once
// Splits a fuzzer's input into fields at 0x00 bytes, so one input can carry
// a URL, a token, headers and a body; missing fields are empty.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace calltrack::fuzz {

inline std::vector<std::string> fields(const uint8_t* data, size_t size, size_t count) {
    std::vector<std::string> out(count);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    for (size_t i = 0; i < count; ++i) {
        const auto cut = i + 1 < count ? in.find('\0') : std::string_view::npos;
        out[i] = std::string(in.substr(0, cut));
        if (cut == std::string_view::npos) break;
        in.remove_prefix(cut + 1);
    }
    return out;
}

}  // namespace calltrack::fuzz
