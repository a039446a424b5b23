#include "api/LogWriter.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace calltrack::api {

LogWriter::LogWriter(int fd, size_t maxQueuedLines, std::chrono::milliseconds drainBound)
    : fd_(fd), maxQueued_(std::max<size_t>(1, maxQueuedLines)), drainBound_(drainBound) {
    thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void LogWriter::push(std::string line) {
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= maxQueued_) {
            ++unreported_;
            dropped_.fetch_add(1);
            return;
        }
        queue_.push_back(std::move(line));
    }
    wake_.notify_one();
}

LogWriter::Progress LogWriter::writeFrom(const std::string& text, size_t& done,
                                         std::chrono::milliseconds bound) {
    while (done < text.size()) {
        pollfd p{fd_, POLLOUT, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(bound.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) return Progress::stalled;
        if (ready < 0 || (p.revents & (POLLERR | POLLNVAL))) return Progress::failed;
        // At most PIPE_BUF per write: a pipe that polled writable has that
        // much room, so write() never blocks on a reader (a longer line goes
        // out in pieces, each after its own poll).
        const ssize_t n =
            ::write(fd_, text.data() + done, std::min<size_t>(text.size() - done, PIPE_BUF));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return Progress::failed;
        done += static_cast<size_t>(n);
    }
    return Progress::written;
}

void LogWriter::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
            if (stop_) return;
            continue;
        }
        std::string text;
        if (unreported_ > 0) {
            text =
                R"({"level":"warn","msg":"log lines dropped: stderr did not keep up","dropped":)" +
                std::to_string(unreported_) + "}\n";
            unreported_ = 0;
        }
        text += queue_.front();
        text += '\n';
        queue_.pop_front();
        lock.unlock();
        // Running, the writer waits for a slow reader as long as it must
        // (the queue absorbs the wait, and drops beyond it); once stopping,
        // no longer than drainBound for the rest.
        size_t done = 0;
        Progress progress = Progress::stalled;
        auto stopDeadline = std::chrono::steady_clock::time_point::max();
        while ((progress = writeFrom(text, done, std::chrono::milliseconds(100))) ==
               Progress::stalled) {
            std::lock_guard check(mutex_);
            if (!stop_) continue;
            const auto now = std::chrono::steady_clock::now();
            if (stopDeadline == std::chrono::steady_clock::time_point::max())
                stopDeadline = now + drainBound_;
            if (now >= stopDeadline) break;
        }
        lock.lock();
        if (progress != Progress::written) {
            // A descriptor that failed or stalled past the stop bound takes
            // nothing more: the rest is counted as dropped.
            dropped_.fetch_add(1 + queue_.size());
            unreported_ += 1 + queue_.size();
            queue_.clear();
            if (stop_) return;
        }
    }
}

}  // namespace calltrack::api
