// Twilio signatures and URL canonicalisation: any URL, token, header and
// form body is verified without crashing, and what compute() signs always
// verifies (with the scheme's default port added or removed as Twilio does).

#include "api/webhooks/FormBody.h"
#include "api/webhooks/TwilioSignature.h"
#include "tests/fuzz/FuzzInput.h"

#include <cstdlib>

using namespace calltrack;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto f = fuzz::fields(data, size, 4);
    const std::string& token = f[0];
    const std::string& url = f[1];
    const std::string& header = f[2];
    const auto pairs = api::FormBody::parse(f[3]);
    api::TwilioSignature::FormParams params;
    if (pairs)
        for (const auto& [n, v] : *pairs) params.emplace_back(n, v);
    (void)api::TwilioSignature::verify(token, header, url, params);
    (void)api::TwilioSignature::verifyJsonBody(token, header, url, f[3]);
    const auto good = api::TwilioSignature::compute(token, url, params);
    if (!api::TwilioSignature::verify(token, good, url, params)) std::abort();
    return 0;
}
