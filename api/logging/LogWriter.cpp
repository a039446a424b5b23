#include "api/logging/LogWriter.h"

#include "api/logging/LogLine.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace calltrack::api {

namespace {
constexpr size_t kKeptTextBytes = 256 * 1024;
}  // namespace

LogWriter::LogWriter(int fd, size_t maxQueuedLines, std::chrono::milliseconds drainBound,
                     const db::Clock* clock)
    : fd_(fd),
      maxQueued_(std::max<size_t>(1, maxQueuedLines)),
      drainBound_(drainBound),
      clock_(clock ? *clock : systemClock_) {
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
    bool wasEmpty = false;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= maxQueued_) {
            ++unreported_;
            dropped_.fetch_add(1);
            return;
        }
        wasEmpty = queue_.empty();
        queue_.push_back(std::move(line));
    }
    // The writer sleeps only on an empty queue (its wait predicate), so only
    // the line that makes it non-empty needs to wake it.
    if (wasEmpty) wake_.notify_one();
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
        // out in pieces, each after its own poll). A piece ends at a line's
        // end when one is in reach, so a line of up to PIPE_BUF bytes goes
        // out in one write: whole even on a pipe other processes share.
        size_t piece = std::min<size_t>(text.size() - done, PIPE_BUF);
        if (piece < text.size() - done) {
            const size_t end = text.rfind('\n', done + piece - 1);
            if (end != std::string::npos && end >= done) piece = end + 1 - done;
        }
        const ssize_t n = ::write(fd_, text.data() + done, piece);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return Progress::failed;
        done += static_cast<size_t>(n);
    }
    return Progress::written;
}

void LogWriter::run() {
    std::unique_lock lock(mutex_);
    std::deque<std::string> batch;
    std::string text;
    for (;;) {
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
            if (stop_) return;
            continue;
        }
        // Everything queued goes out together: one poll and write per
        // PIPE_BUF of lines instead of per line, and the lock is held only
        // for the swap, not while the text is assembled.
        const uint64_t reported = unreported_;
        unreported_ = 0;
        batch.swap(queue_);
        lock.unlock();
        text.clear();
        if (reported > 0) {
            // A line like any other (time, level, msg first), so the log's
            // readers need no special case for it.
            LogLine report(LogLevel::warn, "log lines dropped: stderr did not keep up",
                           clock_.nowMs());
            report.field("dropped", static_cast<int64_t>(reported));
            text = report.finish();
            text += '\n';
        }
        const size_t reportEnd = text.size();
        for (const auto& line : batch) {
            text += line;
            text += '\n';
        }
        const size_t lines = batch.size();
        batch.clear();
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
        // The batch's lines that did not go out, counted before its text is
        // released (a line cut short counts as lost).
        const uint64_t unwrittenOfBatch =
            done < reportEnd
                ? lines
                : static_cast<uint64_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(done),
                                                   text.end(), '\n'));
        // A burst's text is not kept: the RSS of an idle server stays small.
        // (Assigning an empty string would keep the capacity.)
        if (text.capacity() > kKeptTextBytes) std::string().swap(text);
        lock.lock();
        if (progress != Progress::written) {
            // A descriptor that failed or stalled past the stop bound takes
            // nothing more: the batch's unwritten lines and the rest of the
            // queue are counted as dropped.
            const uint64_t unwritten = queue_.size() + unwrittenOfBatch;
            if (done < reportEnd) unreported_ += reported;  // the report itself did not go out
            dropped_.fetch_add(unwritten);
            unreported_ += unwritten;
            queue_.clear();
            if (stop_) return;
        }
    }
}

}  // namespace calltrack::api
