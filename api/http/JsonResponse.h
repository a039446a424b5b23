#pragma once
// How every JSON answer is put into a response: the one place that sets
// Content-Type and the dump settings (invalid UTF-8 in stored text is
// replaced, never thrown on mid-response).

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <string>

namespace calltrack::api {

void sendJson(httplib::Response& res, int status, const nlohmann::json& body);
// A body already written as JSON text (JsonWriter), moved in without a copy.
void sendJsonText(httplib::Response& res, int status, std::string body);

}  // namespace calltrack::api
