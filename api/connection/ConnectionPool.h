#pragma once
// cpp-httplib's task queue, sized for its model: a worker serves one
// connection for the connection's whole life (keep-alive included), so
// there is one thread per open connection. Threads start on demand up to
// `maxConnections`; beyond `warmThreads`, a thread idle for `idleExit`
// exits. The queue never holds more tasks than there are threads to take
// them: a connection beyond the cap is run at once on the accepting thread
// inside an overflow scope (overflowing() is true there), where the server
// hands its socket to the OverloadRejecter instead of serving it.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace calltrack::api {

class ConnectionPool : public httplib::TaskQueue {
  public:
    // `onIdle` runs (unlocked) once on a thread that has waited `idleHint`
    // for a connection since its last one: serve gives that thread's malloc
    // cache back, which a thread blocked in a wait never would by itself.
    ConnectionPool(size_t maxConnections, size_t warmThreads,
                   std::chrono::milliseconds idleExit = std::chrono::seconds(30),
                   std::function<void()> onIdle = {},
                   std::chrono::milliseconds idleHint = std::chrono::seconds(1));
    ~ConnectionPool() override;
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    void enqueue(std::function<void()> fn) override;
    // Runs what is queued, then joins every thread.
    void shutdown() override;

    // True on a thread while enqueue runs an over-cap task on it.
    static bool overflowing();
    // Connections being served or queued for a thread.
    size_t open() const { return open_.load(); }
    // Three quarters of the cap in use: idle keep-alive connections are
    // closed rather than kept, so that new clients find a thread.
    bool underPressure() const { return open_.load() * 4 >= maxConnections_ * 3; }

  private:
    struct Worker {
        std::thread thread;
        bool done = false;  // guarded by mutex_; set as the thread's last act
    };
    void run(Worker& self);
    void joinFinishedLocked();

    const size_t maxConnections_;
    const size_t warmThreads_;
    const std::chrono::milliseconds idleExit_;
    const std::function<void()> onIdle_;
    const std::chrono::milliseconds idleHint_;
    std::atomic<size_t> open_{0};

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;  // guarded by mutex_
    std::list<Worker> workers_;                // guarded by mutex_
    size_t idle_ = 0;                          // guarded by mutex_
    size_t live_ = 0;                          // workers not done; guarded by mutex_
    bool shutdown_ = false;                    // guarded by mutex_
};

}  // namespace calltrack::api
