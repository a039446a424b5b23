#include "api/connection/BoundedConnectionServer.h"

#include "api/connection/DeadlineStream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace calltrack::api {

namespace {
using Clock = std::chrono::steady_clock;
// Idle waits look this often for a server stop or connection pressure.
constexpr auto kIdleSlice = std::chrono::milliseconds(100);
}  // namespace

BoundedConnectionServer::BoundedConnectionServer(ConnectionLimits limits,
                                                 ConnectionCounters& counters,
                                                 CannedResponse render)
    : limits_(limits), counters_(counters), render_(std::move(render)), rejecter_([this] {
          return render_(503, "overloaded",
                         "too many connections: retry shortly, or on another instance");
      }) {
    new_task_queue = [this] {
        auto* pool = new ConnectionPool(limits_.maxConnections, limits_.warmThreads);
        pool_.store(pool);
        return pool;
    };
}

bool BoundedConnectionServer::awaitNextRequest(const DeadlineStream& stream) {
    const auto until = Clock::now() + limits_.keepAliveIdle;
    for (;;) {
        if (svr_sock_ == INVALID_SOCKET) return false;
        const ConnectionPool* pool = pool_.load();
        if (pool && pool->underPressure() && !stream.waitForData(std::chrono::milliseconds(0))) {
            counters_.idleClosedEarly.fetch_add(1);
            return false;
        }
        const auto left = until - Clock::now();
        if (left <= Clock::duration::zero()) return false;
        if (stream.waitForData(std::chrono::duration_cast<std::chrono::milliseconds>(
                std::min<Clock::duration>(left, kIdleSlice)))) {
            return true;
        }
    }
}

bool BoundedConnectionServer::process_and_close_socket(socket_t sock) {
    if (ConnectionPool::overflowing()) {
        counters_.overloaded.fetch_add(1);
        rejecter_.take(sock);
        return false;
    }
    counters_.open.fetch_add(1);
    DeadlineStream stream(sock, limits_.writeTimeout);
    // A new connection's first request counts from its accept: connecting
    // and then saying nothing is being slow too.
    auto deadline = Clock::now() + limits_.requestTimeout;
    bool ok = true;
    for (size_t served = 0; served < limits_.keepAliveMaxRequests; ++served) {
        if (svr_sock_ == INVALID_SOCKET) break;
        if (served > 0) {
            if (!awaitNextRequest(stream)) break;
            deadline = Clock::now() + limits_.requestTimeout;
        }
        stream.beginRequest(deadline);
        bool closeAsked = false;
        const bool last = served + 1 == limits_.keepAliveMaxRequests;
        ok = process_request(stream, last, closeAsked, nullptr);
        if (stream.expired()) {
            // What cpp-httplib answered the cut-off request was discarded.
            if (stream.bytesReadInRequest() > 0) {
                counters_.requestTimeouts.fetch_add(1);
                stream.writeAll(render_(408, "request_timeout",
                                        "the request's headers and body did not arrive within " +
                                            std::to_string(limits_.requestTimeout.count()) +
                                            " ms"));
            }
            break;
        }
        if (!ok || closeAsked || stream.responseCloses()) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    counters_.open.fetch_sub(1);
    return ok;
}

}  // namespace calltrack::api
