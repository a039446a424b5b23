#pragma once
// Method + path dispatch with the API's own 404 and 405 (with Allow).
// cpp-httplib's routing answers neither in our error shape, so every request
// comes here through one catch-all handler per method.

#include "api/RequestContext.h"

#include <httplib.h>

#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace calltrack::api {

using RouteParams = std::vector<std::string>;  // regex capture groups
using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                        const RouteParams&, RequestContext&)>;

class Router {
  public:
    void add(std::string method, std::string pattern, RouteHandler handler);
    // Throws ApiError 404 / 405 when nothing matches.
    void dispatch(const httplib::Request& req, httplib::Response& res, RequestContext& ctx) const;

  private:
    struct Route {
        std::string method;
        std::string pattern;
        std::regex regex;
        RouteHandler handler;
    };
    std::vector<Route> routes_;
};

}  // namespace calltrack::api
