#pragma once
// Twilio webhooks as Twilio sends them: form-encoded, signed by the npm
// `twilio` package (NodeSigner) over the full URL including its query, with
// an I-Twilio-Idempotency-Token that a redelivery of the same request repeats.

#include "tests/NodeSigner.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace calltrack::test {

inline std::string formEncode(const nlohmann::json& params) {
    std::string out;
    for (auto it = params.begin(); it != params.end(); ++it) {
        if (!out.empty()) out += '&';
        out += httplib::detail::encode_query_param(it.key()) + "=" +
               httplib::detail::encode_query_param(it.value().get<std::string>());
    }
    return out;
}

struct SignedTwilioRequest {
    std::string path;  // path and query, as posted
    nlohmann::json params;
    std::string signature;
    std::string idempotencyToken;
};

// Signs each (path, params) for `publicUrl + path` with `authToken`, in one
// node start.
inline std::vector<SignedTwilioRequest> signTwilioRequests(
    const std::string& publicUrl, const std::string& authToken,
    const std::vector<std::pair<std::string, nlohmann::json>>& requests) {
    nlohmann::json batch = nlohmann::json::array();
    for (const auto& [path, params] : requests) {
        batch.push_back({{"kind", "twilio"},
                         {"authToken", authToken},
                         {"url", publicUrl + path},
                         {"params", params}});
    }
    const auto signatures = NodeSigner::sign(batch);
    std::vector<SignedTwilioRequest> out;
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto& params = requests[i].second;
        out.push_back({requests[i].first, params, signatures[i],
                       "idem-" + std::to_string(
                                     std::hash<std::string>{}(requests[i].first + params.dump()))});
    }
    return out;
}

inline httplib::Result postTwilio(httplib::Client& client, const SignedTwilioRequest& r) {
    httplib::Headers headers{{"X-Twilio-Signature", r.signature},
                             {"I-Twilio-Idempotency-Token", r.idempotencyToken}};
    return client.Post(r.path, headers, formEncode(r.params), "application/x-www-form-urlencoded");
}

}  // namespace calltrack::test
