#include "api/http/JsonResponse.h"

namespace calltrack::api {

void sendJson(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

void sendJsonText(httplib::Response& res, int status, std::string body) {
    res.status = status;
    // set_content() without its copy of the body.
    res.body = std::move(body);
    res.headers.erase("Content-Type");
    res.set_header("Content-Type", "application/json");
}

}  // namespace calltrack::api
