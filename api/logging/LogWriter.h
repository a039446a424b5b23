#pragma once
// Writes log lines to a file descriptor from its own thread, through a
// bounded queue: a blocked stderr (a full pipe nobody reads, a stopped
// terminal) must never block a request. When the queue is full a line is
// dropped and counted; the next line written says how many were lost.
// Stopping writes what is queued while the descriptor takes it, waiting at
// most `drainBound` for it to become writable.
// The thread takes everything queued at once and writes it in pieces of at
// most PIPE_BUF that end at line ends: lines stay in push order, and a line
// whose text and newline fit in PIPE_BUF bytes is written whole by one
// write(). While a batch is written the next one queues, so the memory held
// is at most about twice that of maxQueuedLines lines.

#include "db/Clock.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace calltrack::api {

class LogWriter {
  public:
    // `clock` dates the report of dropped lines (the system clock if none).
    LogWriter(int fd, size_t maxQueuedLines,
              std::chrono::milliseconds drainBound = std::chrono::seconds(1),
              const db::Clock* clock = nullptr);
    ~LogWriter();
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Queues one line (without its newline); never blocks on the descriptor.
    void push(std::string line);
    // Lines dropped because the queue was full, since start.
    uint64_t dropped() const { return dropped_.load(); }

  private:
    enum class Progress { written, stalled, failed };
    void run();
    // Writes text from `done` on; stops early when the descriptor stays
    // unwritable for `bound` (stalled) or fails.
    Progress writeFrom(const std::string& text, size_t& done, std::chrono::milliseconds bound);

    const int fd_;
    const size_t maxQueued_;
    const std::chrono::milliseconds drainBound_;
    const db::SystemClock systemClock_;
    const db::Clock& clock_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> queue_;  // guarded by mutex_
    uint64_t unreported_ = 0;        // dropped since the last report; guarded by mutex_
    bool stop_ = false;              // guarded by mutex_
    std::atomic<uint64_t> dropped_{0};
    std::thread thread_;
};

}  // namespace calltrack::api
