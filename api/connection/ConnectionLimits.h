#pragma once
// What one slow, idle or greedy client may hold of the HTTP server.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace calltrack::api {

struct ConnectionLimits {
    // Connections served at once (one thread each); the next is answered
    // 503 `overloaded` with Retry-After at once.
    size_t maxConnections = 512;
    // Threads kept even when idle.
    size_t warmThreads = 32;
    // From a request's first byte (a new connection's: from its accept) to
    // the end of its body; past it the request is answered 408 and the
    // connection closed.
    std::chrono::milliseconds requestTimeout{5000};
    // An idle keep-alive connection is closed after this, or at once while
    // three quarters of maxConnections are in use.
    std::chrono::milliseconds keepAliveIdle{5000};
    size_t keepAliveMaxRequests = 1000;
    // Each write of a response waits at most this for the client to read.
    std::chrono::milliseconds writeTimeout{5000};
    // Run on a connection thread idle for a second (ConnectionPool): serve
    // gives the thread's malloc cache back (app/MemoryAllocator).
    std::function<void()> onThreadIdle{};
};

// Per-process counts (GET /v1/usage → "connections").
struct ConnectionCounters {
    std::atomic<int64_t> open{0};         // being served now
    std::atomic<uint64_t> overloaded{0};  // beyond the cap: 503 (or closed)
    // Of those, closed without an answer: the rejecter already held
    // OverloadRejecter::kMaxHeld sockets (a flood, not a busy hour).
    std::atomic<uint64_t> overloadedUnanswered{0};
    std::atomic<uint64_t> requestTimeouts{0};  // answered 408
    std::atomic<uint64_t> idleClosedEarly{0};  // keep-alive closed under pressure
};

}  // namespace calltrack::api
