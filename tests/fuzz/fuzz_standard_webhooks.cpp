// Standard Webhooks header parsing and verification: any secret, headers and
// body give a verdict, never a crash; what sign() makes verifies.

#include "api/webhooks/StandardWebhookSignature.h"
#include "tests/fuzz/FuzzInput.h"

#include <cstdlib>
#include <stdexcept>

using namespace calltrack;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto f = fuzz::fields(data, size, 5);
    const api::StandardWebhookHeaders headers{f[1], f[2], f[3]};
    constexpr int64_t now = 1'800'000'000;
    (void)api::StandardWebhookSignature::verify(f[0], headers, f[4], now);
    try {
        const auto sig = api::StandardWebhookSignature::sign(f[0], f[1], now, f[4]);
        const api::StandardWebhookHeaders mine{f[1], "1800000000", sig};
        const auto verdict = api::StandardWebhookSignature::verify(f[0], mine, f[4], now);
        if (!f[1].empty() && verdict != api::StandardWebhookVerdict::ok) std::abort();
    } catch (const std::invalid_argument&) {
        // a malformed secret
    }
    return 0;
}
