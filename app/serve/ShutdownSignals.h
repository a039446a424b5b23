#pragma once
// SIGINT and SIGTERM as serve's shutdown request, taken by sigwait() on one
// thread only. A process-directed signal is delivered to any thread that
// does not block it, and the default action of both ends the whole process
// at once, without the ordered shutdown: so they must be blocked before the
// first thread of the process starts (serve's log writer is started before
// runServe). Constructing one blocks them in the calling thread, and so in
// every thread it starts from then on.

#include <csignal>

namespace calltrack::app {

class ShutdownSignals {
  public:
    ShutdownSignals();
    ShutdownSignals(const ShutdownSignals&) = delete;
    ShutdownSignals& operator=(const ShutdownSignals&) = delete;

    // Waits for SIGINT or SIGTERM (a stop has no other source, so no bound:
    // the wait ends with the process) and returns which.
    int wait() const;

  private:
    sigset_t signals_{};
};

}  // namespace calltrack::app
