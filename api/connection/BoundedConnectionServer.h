#pragma once
// cpp-httplib's Server with each connection's life bounded (cpp-httplib
// bounds single socket reads only): a connection cap answered 503 at once
// beyond it, an overall deadline per request for headers and body, idle
// keep-alive connections closed promptly, and a task queue that never grows
// past the cap. Requests themselves are cpp-httplib's, handlers and all:
// this replaces only the per-connection loop (process_and_close_socket,
// which cpp-httplib declares virtual for its TLS server).

#include "api/connection/ConnectionLimits.h"
#include "api/connection/ConnectionPool.h"
#include "api/connection/OverloadRejecter.h"

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>

namespace calltrack::api {

class BoundedConnectionServer : public httplib::Server {
  public:
    // `render(status, code, message)` produces a whole HTTP response in the
    // API's error shape, with Connection: close.
    using CannedResponse = std::function<std::string(int, const std::string&, const std::string&)>;

    BoundedConnectionServer(ConnectionLimits limits, ConnectionCounters& counters,
                            CannedResponse render);

  private:
    bool process_and_close_socket(socket_t sock) override;
    // Between two requests of a keep-alive connection: true when the next
    // request has begun to arrive.
    bool awaitNextRequest(const class DeadlineStream& stream);
    static void lingerClose(int sock);

    const ConnectionLimits limits_;
    ConnectionCounters& counters_;
    CannedResponse render_;
    OverloadRejecter rejecter_;
    // Set by new_task_queue on the accepting thread before any connection
    // task exists; cpp-httplib owns the pool and destroys it after its
    // tasks have run.
    std::atomic<ConnectionPool*> pool_{nullptr};
};

}  // namespace calltrack::api
