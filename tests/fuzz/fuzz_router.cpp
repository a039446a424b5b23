// The router: any method and path (the request line's target) is dispatched
// to one route with the right number of parameters, or refused with 404/405.

#include "api/http/ApiError.h"
#include "api/http/Router.h"
#include "tests/fuzz/FuzzInput.h"

#include <httplib.h>

#include <algorithm>
#include <cstdlib>

using namespace calltrack;

namespace {

const char* const kPatterns[] = {"/healthz",
                                 "/readyz",
                                 "/openapi.json",
                                 "/v1/calls",
                                 "/v1/calls:batch",
                                 "/v1/calls/{id}",
                                 "/v1/calls/{id}/events",
                                 "/v1/calls/{id}/heartbeat",
                                 "/v1/calls/{id}/end",
                                 "/v1/clients",
                                 "/v1/clients/{id}",
                                 "/v1/clients/{id}/schedule",
                                 "/v1/clients/{id}/schedule/{schedule_id}",
                                 "/v1/clients/{id}/warm-pool",
                                 "/v1/clients/{client_id}/calls/{external_id}",
                                 "/v1/clients/{client_id}/calls/{external_id}/events",
                                 "/v1/clients/{client_id}/calls/{external_id}/end",
                                 "/v1/limits/global",
                                 "/v1/usage",
                                 "/v1/bots",
                                 "/v1/bots/{id}",
                                 "/v1/webhooks/twilio",
                                 "/v1/webhooks/twilio/voice",
                                 "/v1/webhooks/generic"};

const api::Router& router() {
    static const api::Router r = [] {
        api::Router out;
        for (const char* p : kPatterns) {
            const auto params = std::count(p, p + std::char_traits<char>::length(p), '{');
            for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
                out.add(m, p,
                        [params](const httplib::Request&, httplib::Response& res,
                                 const api::RouteParams& got, api::RequestContext&) {
                            if (static_cast<long>(got.size()) != params) std::abort();
                            res.status = 200;
                        });
            }
        }
        return out;
    }();
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto f = fuzz::fields(data, size, 2);
    httplib::Request req;
    req.method = f[0];
    req.path = f[1];
    httplib::Response res;
    api::RequestContext rc;
    try {
        router().dispatch(req, res, rc);
    } catch (const api::ApiError& e) {
        if (e.status != 404 && e.status != 405 && e.status != 400 && e.status != 414) std::abort();
    }
    return 0;
}
