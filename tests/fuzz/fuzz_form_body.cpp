// The form body parser (Twilio webhooks): any input parses or is refused;
// what parses, encoded again, parses to the same pairs.

#include "api/webhooks/FormBody.h"

#include <httplib.h>

#include <cstdlib>

using namespace calltrack;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto pairs = api::FormBody::parse(body);
    if (!pairs) return 0;
    std::string again;
    for (const auto& [name, value] : *pairs) {
        if (!again.empty()) again += '&';
        again += httplib::detail::encode_query_param(name) + "=" +
                 httplib::detail::encode_query_param(value);
    }
    const auto round = api::FormBody::parse(again);
    if (!round || *round != *pairs) std::abort();
    if (!pairs->empty() && api::FormBody::first(*pairs, pairs->front().first) == nullptr)
        std::abort();
    return 0;
}
