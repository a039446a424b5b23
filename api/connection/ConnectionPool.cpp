#include "api/connection/ConnectionPool.h"

#include <pthread.h>

#include <system_error>

namespace calltrack::api {

namespace {
// Set only by enqueue around an over-cap task, on the accepting thread, and
// read on that same thread: cpp-httplib's task is an opaque closure, so the
// fact "this connection is over the cap" cannot travel in it.
thread_local bool tOverflowing = false;

struct OverflowScope {
    OverflowScope() { tOverflowing = true; }
    ~OverflowScope() { tOverflowing = false; }
    OverflowScope(const OverflowScope&) = delete;
    OverflowScope& operator=(const OverflowScope&) = delete;
};
}  // namespace

ConnectionPool::ConnectionPool(size_t maxConnections, size_t warmThreads,
                               std::chrono::milliseconds idleExit, std::function<void()> onIdle,
                               std::chrono::milliseconds idleHint)
    : maxConnections_(std::max<size_t>(1, maxConnections)),
      warmThreads_(std::min(warmThreads, maxConnections_)),
      idleExit_(idleExit),
      onIdle_(std::move(onIdle)),
      idleHint_(std::min(idleHint, idleExit)) {}

ConnectionPool::~ConnectionPool() {
    shutdown();
}

bool ConnectionPool::overflowing() {
    return tOverflowing;
}

void ConnectionPool::enqueue(std::function<void()> fn) {
    // One increment per accepted connection, undone when its task returns;
    // only this (the accepting) thread increments, so the check cannot be
    // overtaken.
    if (open_.load() >= maxConnections_) {
        OverflowScope overflow;
        fn();
        return;
    }
    open_.fetch_add(1);
    {
        std::lock_guard lock(mutex_);
        joinFinishedLocked();
        if (idle_ >= tasks_.size() + 1) {
            tasks_.push_back(std::move(fn));
            wake_.notify_one();
            return;
        }
        try {
            workers_.emplace_back();
            Worker& worker = workers_.back();
            worker.thread = std::thread([this, &worker] { run(worker); });
            ++live_;
            tasks_.push_back(std::move(fn));
            wake_.notify_one();
            return;
        } catch (const std::system_error&) {
            // No thread to be had (a process or cgroup limit): this
            // connection is answered as one over the cap.
            workers_.pop_back();
        }
    }
    open_.fetch_sub(1);
    OverflowScope overflow;
    fn();
}

void ConnectionPool::run(Worker& self) {
    // Named for `top -H`, `ps -L` and profilers (at most 15 characters).
    pthread_setname_np(pthread_self(), "ct-http");
    std::unique_lock lock(mutex_);
    // onIdle_ ran since this thread's last connection. A thread beyond the
    // warm ones exits once idle for idleExit_ after that.
    bool hinted = !onIdle_;
    for (;;) {
        ++idle_;
        const bool woken = wake_.wait_for(lock, hinted ? idleExit_ : idleHint_,
                                          [&] { return !tasks_.empty() || shutdown_; });
        --idle_;
        if (tasks_.empty()) {
            if (shutdown_) break;
            if (!hinted) {
                hinted = true;
                lock.unlock();
                onIdle_();
                lock.lock();
                continue;
            }
            if (!woken && live_ > warmThreads_) break;
            continue;
        }
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        task = nullptr;
        open_.fetch_sub(1);
        hinted = !onIdle_;
        lock.lock();
    }
    --live_;
    self.done = true;
}

void ConnectionPool::joinFinishedLocked() {
    // A done worker has released the mutex for the last time, or is about
    // to: joining it here waits for no more than its return.
    for (auto it = workers_.begin(); it != workers_.end();) {
        if (it->done) {
            it->thread.join();
            it = workers_.erase(it);
        } else {
            ++it;
        }
    }
}

void ConnectionPool::shutdown() {
    std::list<Worker> workers;
    {
        std::lock_guard lock(mutex_);
        shutdown_ = true;
        wake_.notify_all();
    }
    // Workers take the mutex to finish: join outside it. They never touch
    // their list node after setting done, and the list is only spliced here.
    {
        std::lock_guard lock(mutex_);
        workers.splice(workers.end(), workers_);
    }
    for (auto& w : workers) {
        if (w.thread.joinable()) w.thread.join();
    }
}

}  // namespace calltrack::api
