#include "api/connection/OverloadRejecter.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace calltrack::api {

namespace {
using Clock = std::chrono::steady_clock;
// How long the request head may take before the answer goes out anyway,
// and how long after it the client may take to close.
constexpr auto kReadWindow = std::chrono::milliseconds(250);
constexpr auto kLinger = std::chrono::milliseconds(1000);
}  // namespace

OverloadRejecter::OverloadRejecter(std::function<std::string()> response)
    : response_(std::move(response)) {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        throw std::runtime_error("cannot create the overload rejecter's wake pipe");
    wakeRead_ = fds[0];
    wakeWrite_ = fds[1];
    thread_ = std::thread([this] { run(); });
}

OverloadRejecter::~OverloadRejecter() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    const char byte = 0;
    [[maybe_unused]] auto n = ::write(wakeWrite_, &byte, 1);
    thread_.join();
    std::lock_guard lock(mutex_);
    for (int fd : incoming_) ::close(fd);
    ::close(wakeRead_);
    ::close(wakeWrite_);
}

bool OverloadRejecter::take(int fd) {
    {
        std::lock_guard lock(mutex_);
        if (!stop_ && held_ < kMaxHeld) {
            ++held_;
            incoming_.push_back(fd);
            const char byte = 0;
            [[maybe_unused]] auto n = ::write(wakeWrite_, &byte, 1);
            return true;
        }
    }
    ::close(fd);
    return false;
}

void OverloadRejecter::answer(Held& h) {
    const std::string bytes = response_();
    // Small enough for an empty socket buffer; a short write is not retried.
    [[maybe_unused]] auto n = ::send(h.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(h.fd, SHUT_WR);
    h.answered = true;
    h.since = Clock::now();
}

void OverloadRejecter::run() {
    std::vector<Held> held;
    std::vector<pollfd> fds;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stop_) break;
            for (int fd : incoming_) held.push_back(Held{fd, Clock::now(), false, {}});
            incoming_.clear();
        }
        fds.assign(1, pollfd{wakeRead_, POLLIN, 0});
        for (const auto& h : held) fds.push_back(pollfd{h.fd, POLLIN, 0});
        ::poll(fds.data(), fds.size(), 50);
        if (fds[0].revents & POLLIN) {
            char drain[64];
            while (::read(wakeRead_, drain, sizeof drain) > 0) {
            }
        }
        const auto now = Clock::now();
        size_t closed = 0;
        for (size_t i = 0; i < held.size(); ++i) {
            Held& h = held[i];
            bool eof = false;
            if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[2048];
                const ssize_t n = ::recv(h.fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
                    eof = true;
                } else if (n > 0 && !h.answered) {
                    h.head.append(buf, static_cast<size_t>(n));
                    if (h.head.find("\r\n\r\n") != std::string::npos || h.head.size() > 16384)
                        answer(h);
                    else if (h.head.size() > 3)
                        h.head.erase(0, h.head.size() - 3);
                }
            }
            if (!h.answered && (eof || now - h.since >= kReadWindow)) answer(h);
            if (h.answered && (eof || now - h.since >= kLinger)) {
                ::close(h.fd);
                h.fd = -1;
                ++closed;
            }
        }
        if (closed > 0) {
            std::erase_if(held, [](const Held& h) { return h.fd < 0; });
            std::lock_guard lock(mutex_);
            held_ -= closed;
        }
    }
    for (const auto& h : held) ::close(h.fd);
}

}  // namespace calltrack::api
