#include "api/Router.h"

#include "api/ApiError.h"

namespace calltrack::api {

void Router::add(std::string method, std::string pattern, RouteHandler handler) {
    std::regex regex(pattern);
    routes_.push_back(
        {std::move(method), std::move(pattern), std::move(regex), std::move(handler)});
}

void Router::dispatch(const httplib::Request& req, httplib::Response& res,
                      RequestContext& ctx) const {
    std::string allow;
    for (const auto& route : routes_) {
        std::smatch match;
        if (!std::regex_match(req.path, match, route.regex)) continue;
        if (route.method == req.method) {
            RouteParams params;
            for (size_t i = 1; i < match.size(); ++i) params.push_back(match[i].str());
            ctx.route = route.method + " " + route.pattern;
            route.handler(req, res, params, ctx);
            return;
        }
        if (allow.find(route.method) == std::string::npos)
            allow += (allow.empty() ? "" : ", ") + route.method;
    }
    if (!allow.empty()) {
        ApiError e(405, "method_not_allowed",
                   req.method + " is not allowed on " + req.path + "; allowed: " + allow);
        e.allow = allow;
        throw e;
    }
    throw ApiError::notFound("not_found", "no such endpoint: " + req.method + " " + req.path);
}

}  // namespace calltrack::api
