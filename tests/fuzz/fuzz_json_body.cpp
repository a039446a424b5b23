// The JSON body reader and the call messages built on it: any input is a
// request or an ApiError (400 with a stable code); nothing else may escape.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/routes/CallMessages.h"
#include "tests/fuzz/FuzzInput.h"

#include <cstdlib>

using namespace calltrack;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto f = fuzz::fields(data, size, 2);
    const std::string contentType = f[0].empty() ? "application/json" : f[0];
    try {
        api::JsonBody body(contentType, f[1], true);
        (void)body.text("client_id", 64);
        (void)body.integer("sequence", 0);
        (void)body.boolean("enabled");
        (void)body.rawJson("metadata");
        (void)body.object("twilio");
        api::RequestContext rc;
        try {
            (void)api::CallMessages::admitRequest(body, rc);
        } catch (const api::ApiError&) {
        }
        try {
            (void)api::CallMessages::statusEvent(body, db::CallRef::byId(1));
        } catch (const api::ApiError&) {
        }
        try {
            (void)api::CallMessages::endRequest(body, db::CallRef::byId(1));
        } catch (const api::ApiError&) {
        }
        body.allowOnly({"client_id", "external_id"});
    } catch (const api::ApiError& e) {
        if (e.status < 400 || e.status > 499) std::abort();
    }
    return 0;
}
