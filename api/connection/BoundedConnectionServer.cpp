#include "api/connection/BoundedConnectionServer.h"

#include "api/connection/DeadlineStream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace calltrack::api {

namespace {
using Clock = std::chrono::steady_clock;
// Idle waits look this often for a server stop or connection pressure.
constexpr auto kIdleSlice = std::chrono::milliseconds(100);
constexpr auto kLinger = std::chrono::milliseconds(500);
}  // namespace

BoundedConnectionServer::BoundedConnectionServer(ConnectionLimits limits,
                                                 ConnectionCounters& counters,
                                                 CannedResponse render)
    : limits_(limits), counters_(counters), render_(std::move(render)), rejecter_([this] {
          return render_(503, "overloaded",
                         "too many connections: retry shortly, or on another instance");
      }) {
    new_task_queue = [this] {
        auto* pool = new ConnectionPool(limits_.maxConnections, limits_.warmThreads,
                                        std::chrono::seconds(30), limits_.onThreadIdle);
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

void BoundedConnectionServer::lingerClose(int sock) {
    // Closing with unread input sends a reset, which can destroy the answer
    // before the client reads it: half-close, then read until the client
    // closes too, for a short bound.
    ::shutdown(sock, SHUT_WR);
    const auto until = Clock::now() + kLinger;
    char sink[4096];
    while (Clock::now() < until) {
        pollfd p{sock, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(sock, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
}

bool BoundedConnectionServer::process_and_close_socket(socket_t sock) {
    if (ConnectionPool::overflowing()) {
        counters_.overloaded.fetch_add(1);
        if (!rejecter_.take(sock)) counters_.overloadedUnanswered.fetch_add(1);
        return false;
    }
    counters_.open.fetch_add(1);
    DeadlineStream stream(sock, limits_.writeTimeout);
    // A new connection's first request counts from its accept: connecting
    // and then saying nothing is being slow too.
    auto deadline = Clock::now() + limits_.requestTimeout;
    bool ok = true;
    bool unread = false;  // the client may have sent bytes we did not read
    for (size_t served = 0; served < limits_.keepAliveMaxRequests; ++served) {
        if (svr_sock_ == INVALID_SOCKET) break;
        if (served > 0) {
            if (!awaitNextRequest(stream)) break;
            deadline = Clock::now() + limits_.requestTimeout;
        }
        stream.beginRequest(deadline);
        bool closeAsked = false;
        // Under pressure this response says Connection: close, so that a
        // client (or nginx's upstream pool) does not reuse a connection we
        // are about to close.
        const ConnectionPool* pool = pool_.load();
        const bool last =
            served + 1 == limits_.keepAliveMaxRequests || (pool && pool->underPressure());
        ok = process_request(stream, last, closeAsked, nullptr);
        // A response without a body is still held in the stream.
        if (!stream.expired() && !stream.endResponse()) ok = false;
        if (stream.expired()) {
            // What cpp-httplib answered the cut-off request was discarded.
            if (stream.bytesReadInRequest() > 0) {
                counters_.requestTimeouts.fetch_add(1);
                stream.writeAll(render_(408, "request_timeout",
                                        "the request's headers and body did not arrive within " +
                                            std::to_string(limits_.requestTimeout.count()) +
                                            " ms"));
            }
            unread = true;
            break;
        }
        if (stream.responseCloses()) unread = true;
        if (!ok || closeAsked || stream.responseCloses() || last) break;
    }
    if (unread) lingerClose(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    counters_.open.fetch_sub(1);
    return ok;
}

}  // namespace calltrack::api
