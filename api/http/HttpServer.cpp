#include "api/http/HttpServer.h"

#include "api/http/ApiError.h"
#include "api/http/JsonResponse.h"
#include "api/routes/Routes.h"
#include "db/tenants/ApiTokens.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <random>
#include <stdexcept>

namespace calltrack::api {

namespace {

std::string newRequestId() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "req_";
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(kHex[v & 0xF]);
    return id;
}

// An honoured X-Request-Id must be harmless in logs and headers.
bool acceptableRequestId(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (char ch : id) {
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' ||
              ch == ':')) {
            return false;
        }
    }
    return true;
}

BearerAuth::TokenLookup tokenLookup(ApiContext& ctx) {
    return [&ctx](const std::string& secret) -> std::optional<Principal> {
        auto token = ctx.database.authReaders().read(
            [&](db::Connection& c) { return db::ApiTokens::find(c, secret); });
        if (!token) return std::nullopt;
        if (!token->clientId) return Principal{Principal::Kind::admin, {}};
        return Principal{Principal::Kind::client, *token->clientId};
    };
}
}  // namespace

bool HttpServer::isLoopback(const std::string& host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    in_addr addr{};
    return inet_pton(AF_INET, host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

HttpServer::HttpServer(ApiContext& ctx, HttpOptions options)
    : ctx_(ctx),
      options_(std::move(options)),
      auth_(options_.adminToken, tokenLookup(ctx),
            ctx.database.readers().read(
                [](db::Connection& c) { return db::ApiTokens::anyActive(c); })),
      server_(
          [this] {
              ConnectionLimits limits = options_.connections;
              limits.warmThreads = static_cast<size_t>(std::max(1, options_.threads));
              return limits;
          }(),
          ctx.connectionCounters, &HttpServer::cannedResponse) {
    if (auth_.open() && !isLoopback(options_.host)) {
        throw std::runtime_error("refusing to listen on " + options_.host +
                                 " without authentication: set CALLTRACK_ADMIN_TOKEN or create a "
                                 "token with `calltrack token "
                                 "create`, or listen on 127.0.0.1");
    }
    addHealthRoutes(router_, ctx_);
    addOpenApiRoute(router_);
    addCallRoutes(router_, ctx_);
    addClientRoutes(router_, ctx_);
    addUsageRoute(router_, ctx_);
    addWebhookRoutes(router_, ctx_);
    addTwilioVoiceRoute(router_, ctx_);
    addBatchRoute(router_, ctx_);
    addBotRoutes(router_, ctx_);
    addWarmPoolRoutes(router_, ctx_);
    addMetricsRoute(router_, ctx_);
    addHistoryRoutes(router_, ctx_);
    addAlertRoutes(router_, ctx_);
    addDashboardRoute(router_);

    // Without TCP_NODELAY keep-alive requests stall on Nagle + delayed ACK.
    server_.set_tcp_nodelay(true);
    // cpp-httplib's default socket options add SO_REUSEPORT: a second server
    // on a port in use would start, and the kernel would split connections
    // between two servers on two databases. SO_REUSEADDR alone (restarts do
    // not wait for TIME_WAIT) makes a taken port fail to bind. The socket is
    // kept to raise the listen backlog, which Debian's library compiles in as 5.
    server_.set_socket_options([this](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listenSocket_ = sock;
    });
    // Keep-alive, read and write timeouts are BoundedConnectionServer's own;
    // these only make cpp-httplib's Keep-Alive header say the same.
    server_.set_keep_alive_max_count(options_.connections.keepAliveMaxRequests);
    server_.set_keep_alive_timeout(std::max<time_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(options_.connections.keepAliveIdle)
               .count()));
    server_.set_payload_max_length(options_.maxBodyBytes);

    auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
        handle(req, res);
    };
    for (const char* pattern : {".*"}) {
        server_.Get(pattern, dispatch);
        server_.Post(pattern, dispatch);
        server_.Put(pattern, dispatch);
        server_.Delete(pattern, dispatch);
        server_.Patch(pattern, dispatch);
        server_.Options(pattern, dispatch);
    }
    // Before cpp-httplib reads a body: a POST/PUT/PATCH with neither
    // Content-Length nor chunked encoding (curl -X POST without -d) would be
    // read until the peer closes or the read timeout fires (10 s): it is an
    // empty body, answered at once (and the connection closed). A
    // Content-Length that is not a
    // non-negative decimal of at most 18 digits is 400 at once, and the
    // connection closed (what follows it cannot be framed).
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        using R = httplib::Server::HandlerResponse;
        if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
            // cpp-httplib reads no body for these: one sent anyway would be
            // taken as the next request on the connection (behind a proxy's
            // shared upstream connection, a request smuggled past it).
            const std::string length = req.get_header_value("Content-Length");
            if (req.has_header("Transfer-Encoding") || (!length.empty() && length != "0")) {
                res.set_header("Connection", "close");
                renderError(req, res,
                            ApiError(400, "malformed_request",
                                     req.method + " requests carry no body here"));
                return R::Handled;
            }
            return R::Unhandled;
        }
        if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH")
            return R::Unhandled;
        if (req.has_header("Transfer-Encoding")) return R::Unhandled;
        if (!req.has_header("Content-Length")) {
            handle(req, res);
            // Bytes a broken client sent anyway cannot be framed as a request.
            res.set_header("Connection", "close");
            return R::Handled;
        }
        const std::string length = req.get_header_value("Content-Length");
        const bool decimal = !length.empty() && length.size() <= 18 &&
                             length.find_first_not_of("0123456789") == std::string::npos;
        if (!decimal) {
            res.set_header("Connection", "close");
            renderError(req, res,
                        ApiError(400, "malformed_request",
                                 "Content-Length must be a non-negative decimal number of bytes"));
            return R::Handled;
        }
        return R::Unhandled;
    });
    // Errors cpp-httplib produces itself (413, 400 on a broken request line):
    // give them our shape. Responses we rendered already have a body.
    server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        const int status = res.status;
        // The library refused the request itself: what follows it on the
        // connection cannot be framed.
        res.set_header("Connection", "close");
        const std::string code = status == 413   ? "payload_too_large"
                                 : status == 414 ? "uri_too_long"
                                 : status == 400 ? "malformed_request"
                                                 : "request_rejected";
        const std::string message =
            status == 413
                ? "the body is larger than " + std::to_string(options_.maxBodyBytes) + " bytes"
                : "the request could not be processed";
        renderError(req, res, ApiError(status, code, message));
    });
    // Never let an exception's what() out in a header (cpp-httplib's default).
    server_.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
            renderError(req, res, ApiError(500, "internal", "internal error"));
        });

    if (options_.port == 0) {
        port_ = server_.bind_to_any_port(options_.host);
        if (port_ < 0) throw std::runtime_error("cannot bind " + options_.host);
    } else {
        if (!server_.bind_to_port(options_.host, options_.port)) {
            throw std::runtime_error("cannot listen on " + options_.host + ":" +
                                     std::to_string(options_.port) +
                                     " (in use, or not an address of this host)");
        }
        port_ = options_.port;
    }
    // Linux lets listen() on a listening socket change its backlog.
    if (listenSocket_ >= 0) ::listen(listenSocket_, kListenBacklog);
}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
    if (!thread_.joinable()) return;
    // cpp-httplib stops accepting connections, but a keep-alive connection
    // that is already open would still deliver new requests: those are now
    // answered 503 shutting_down and their connection closed.
    stopping_.store(true);
    server_.stop();
    thread_.join();
}

std::string HttpServer::cannedResponse(int status, const std::string& code,
                                       const std::string& message) {
    ApiError error(status, code, message);
    if (status == 503) error.retryAfterMs = 1000;
    const std::string requestId = newRequestId();
    const std::string body = ApiError::body(error, requestId).dump();
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " +
        (status == 408   ? "Request Timeout"
         : status == 503 ? "Service Unavailable"
                         : "Error") +
        "\r\nContent-Type: application/json\r\nConnection: close\r\nX-Request-Id: " + requestId +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (error.retryAfterMs) out += "Retry-After: 1\r\n";
    return out + "\r\n" + body;
}

void HttpServer::renderError(const httplib::Request& req, httplib::Response& res,
                             const ApiError& error) {
    std::string requestId = res.get_header_value("X-Request-Id");
    if (requestId.empty()) {
        requestId = acceptableRequestId(req.get_header_value("X-Request-Id"))
                        ? req.get_header_value("X-Request-Id")
                        : newRequestId();
        res.set_header("X-Request-Id", requestId);
    }
    if (error.retryAfterMs)
        res.set_header("Retry-After", std::to_string((*error.retryAfterMs + 999) / 1000));
    if (!error.allow.empty()) res.set_header("Allow", error.allow);
    sendJson(res, error.status, ApiError::body(error, requestId));
}

void HttpServer::handle(const httplib::Request& req, httplib::Response& res) {
    const auto started = std::chrono::steady_clock::now();
    RequestContext rc;
    const std::string offered = req.get_header_value("X-Request-Id");
    rc.requestId = acceptableRequestId(offered) ? offered : newRequestId();
    res.set_header("X-Request-Id", rc.requestId);
    try {
        if (stopping_.load()) {
            res.set_header("Connection", "close");
            ApiError e(503, "shutting_down",
                       "calltrack is shutting down; retry on another instance or later");
            e.retryAfterMs = 1000;
            throw e;
        }
        // Webhooks authenticate by their signature, not by a bearer token.
        // The dashboard page holds no data: it asks for a token itself.
        const bool open = req.path == "/healthz" || req.path == "/readyz" ||
                          req.path == "/openapi.json" || req.path == "/dashboard" ||
                          req.path.rfind("/v1/webhooks/", 0) == 0;
        if (!open) {
            auto principal = auth_.authenticate(req.get_header_value("Authorization"));
            if (!principal) {
                res.set_header("WWW-Authenticate", "Bearer");
                throw ApiError(401, "unauthorized", "missing or wrong bearer token");
            }
            rc.principal = *principal;
        }
        router_.dispatch(req, res, rc);
    } catch (const ApiError& e) {
        renderError(req, res, e);
    } catch (const db::EngineError& e) {
        const ApiError mapped = ApiError::fromEngine(e);
        renderError(req, res, mapped);
        if (mapped.status >= 500)
            ctx_.log.error("request failed", {{"request_id", rc.requestId}, {"error", e.what()}});
    } catch (const std::exception& e) {
        renderError(req, res, ApiError(500, "internal", "internal error"));
        ctx_.log.error("request failed", {{"request_id", rc.requestId}, {"error", e.what()}});
    }
    if (ctx_.metrics.process) {
        ctx_.metrics.process->observeRequest(
            rc.route, res.status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (ctx_.log.enabled(LogLevel::info)) {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        // Written straight to text: a DOM of these fields cost more than the
        // rest of an admission's response (docs/PERFORMANCE.md).
        LogLine line = ctx_.log.line(LogLevel::info, "request");
        line.field("request_id", rc.requestId)
            .field("method", req.method)
            .field("path", req.path)
            .field("route", rc.route)
            .field("status", res.status)
            .field("duration_ms", ms);
        if (rc.client) line.field("client", *rc.client);
        if (rc.call) line.field("call", *rc.call);
        line.fields(rc.log);
        ctx_.log.write(line);
    }
}

}  // namespace calltrack::api
