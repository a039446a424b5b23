#pragma once
// Method + path dispatch with the API's own 404 and 405 (with Allow).
// cpp-httplib's routing answers neither in our error shape, so every request
// comes here through one catch-all handler per method.
//
// Patterns are literal paths whose segments may be "{name}": such a segment
// matches any non-empty segment, handed to the handler in order. (No regex:
// libstdc++'s <regex> is slow and warns under sanitizers.)

#include "api/http/RequestContext.h"

#include <httplib.h>

#include <functional>
#include <string>
#include <vector>

namespace calltrack::api {

using RouteParams = std::vector<std::string>;  // the {name} segments, in order
using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                        const RouteParams&, RequestContext&)>;

class Router {
  public:
    void add(std::string method, std::string pattern, RouteHandler handler);
    // Throws ApiError 404 / 405 when nothing matches. HEAD is served as GET.
    void dispatch(const httplib::Request& req, httplib::Response& res, RequestContext& ctx) const;

  private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        RouteHandler handler;
    };
    static bool match(const Route& route, const std::vector<std::string>& path,
                      RouteParams& params);
    std::vector<Route> routes_;
};

}  // namespace calltrack::api
