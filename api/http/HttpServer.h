#pragma once
// The HTTP API on cpp-httplib: configuration, request ids, authentication,
// the one JSON error shape, access logs, start and graceful stop.

#include "api/auth/BearerAuth.h"
#include "api/connection/BoundedConnectionServer.h"
#include "api/connection/ConnectionLimits.h"
#include "api/http/ApiContext.h"
#include "api/http/ApiError.h"
#include "api/http/Router.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace calltrack::api {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;   // 0: any free port (tests)
    int threads = 32;  // kept ready; more start on demand up to connections.maxConnections
    ConnectionLimits connections{};
    size_t maxBodyBytes = 64 * 1024;
    std::optional<std::string> adminToken;
};

class HttpServer {
  public:
    // Throws std::runtime_error when the options are unsafe (no token on a
    // non-loopback address) or the address cannot be bound.
    HttpServer(ApiContext& ctx, HttpOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return port_; }
    // True when no token is configured at start-up (loopback only).
    bool open() const { return auth_.open(); }
    // Serves on a background thread; returns once requests are accepted.
    void start();
    // Stops accepting, lets in-flight requests finish, joins.
    void stop();

    static bool isLoopback(const std::string& host);

  private:
    void handle(const httplib::Request& req, httplib::Response& res);
    void renderError(const httplib::Request& req, httplib::Response& res, const ApiError& error);
    // A whole HTTP response in the error shape, for answers given outside
    // cpp-httplib's request handling (408, 503 overloaded).
    static std::string cannedResponse(int status, const std::string& code,
                                      const std::string& message);

    ApiContext& ctx_;
    HttpOptions options_;
    BearerAuth auth_;
    Router router_;
    BoundedConnectionServer server_;
    // Bursts of dialers connecting at once must not see refused connections.
    static constexpr int kListenBacklog = 1024;
    int port_ = 0;
    int listenSocket_ = -1;  // socket_t (a global typedef in cpp-httplib) on Linux
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace calltrack::api
