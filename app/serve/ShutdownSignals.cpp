#include "app/serve/ShutdownSignals.h"

#include <pthread.h>

namespace calltrack::app {

ShutdownSignals::ShutdownSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

int ShutdownSignals::wait() const {
    // sigwait fails only for an invalid set; it is not interrupted.
    int signal = 0;
    sigwait(&signals_, &signal);
    return signal;
}

}  // namespace calltrack::app
