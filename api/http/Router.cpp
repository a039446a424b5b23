#include "api/http/Router.h"

#include "api/http/ApiError.h"

namespace calltrack::api {

namespace {
std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> out;
    size_t start = 1;  // paths start with '/'
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        out.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}
}  // namespace

void Router::add(std::string method, std::string pattern, RouteHandler handler) {
    auto segments = split(pattern);
    routes_.push_back(
        {std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

bool Router::match(const Route& route, const std::vector<std::string>& path, RouteParams& params) {
    if (route.segments.size() != path.size()) return false;
    params.clear();
    for (size_t i = 0; i < path.size(); ++i) {
        const auto& want = route.segments[i];
        if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
            if (path[i].empty()) return false;
            params.push_back(path[i]);
        } else if (want != path[i]) {
            return false;
        }
    }
    return true;
}

void Router::dispatch(const httplib::Request& req, httplib::Response& res,
                      RequestContext& ctx) const {
    if (req.path.empty() || req.path.front() != '/') {
        throw ApiError::notFound("not_found", "no such endpoint: " + req.method + " " + req.path);
    }
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    const auto path = split(req.path);
    std::string allow;
    RouteParams params;
    for (const auto& route : routes_) {
        if (!match(route, path, params)) continue;
        if (route.method == method) {
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
