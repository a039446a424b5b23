#include "api/connection/DeadlineStream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace calltrack::api {

namespace {

constexpr size_t kBufferBytes = 4096;

void addressOf(const sockaddr_storage& addr, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
        ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        port = ntohs(v4.sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
        ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        port = ntohs(v6.sin6_port);
    }
    ip = text;
}

}  // namespace

DeadlineStream::DeadlineStream(int sock, std::chrono::milliseconds writeTimeout)
    : sock_(sock), writeTimeout_(writeTimeout), buffer_(kBufferBytes) {}

void DeadlineStream::beginRequest(Clock::time_point deadline) {
    deadline_ = deadline;
    expired_ = false;
    requestBytes_ = 0;
    responseCloses_ = false;
    writeDeadline_.reset();
}

int DeadlineStream::waitFor(short events, Clock::time_point until) const {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        pollfd p{sock_, events, 0};
        // Round up so that a wait never ends just before `until`.
        const int rc = ::poll(&p, 1, left <= 0 ? 0 : static_cast<int>(left) + 1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc > 0 && (p.revents & (POLLERR | POLLNVAL))) return -1;
        return rc;
    }
}

bool DeadlineStream::waitForData(std::chrono::milliseconds wait) const {
    if (bufferOffset_ < bufferEnd_) return true;
    // An error (a reset connection) counts as ready: the read that follows
    // fails and ends the connection. Reporting it as "nothing yet" made the
    // idle wait spin on an instant poll until the keep-alive ran out.
    return waitFor(POLLIN, Clock::now() + wait) != 0;
}

bool DeadlineStream::is_readable() const {
    if (bufferOffset_ < bufferEnd_) return true;
    return waitFor(POLLIN, deadline_) > 0;
}

bool DeadlineStream::is_writable() const {
    return waitFor(POLLOUT, writeDeadline_.value_or(Clock::now() + writeTimeout_)) > 0;
}

ssize_t DeadlineStream::read(char* ptr, size_t size) {
    if (bufferOffset_ == bufferEnd_) {
        // Try first, wait only when nothing is there: a keep-alive request
        // has usually arrived whole by the time it is read (one poll() less
        // per request).
        ssize_t n;
        for (;;) {
            n = ::recv(sock_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
            if (n >= 0) break;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            const int ready = waitFor(POLLIN, deadline_);
            if (ready == 0) {
                expired_ = true;
                return -1;
            }
            if (ready < 0) return -1;
        }
        if (n == 0) return 0;
        bufferOffset_ = 0;
        bufferEnd_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, bufferEnd_ - bufferOffset_);
    std::memcpy(ptr, buffer_.data() + bufferOffset_, n);
    bufferOffset_ += n;
    requestBytes_ += n;
    return static_cast<ssize_t>(n);
}

ssize_t DeadlineStream::write(const char* ptr, size_t size) {
    if (expired_) return static_cast<ssize_t>(size);
    // cpp-httplib writes a response's status line and headers in one write,
    // before any body; an interim 100 Continue comes first and says nothing
    // about the connection.
    const std::string_view chunk(ptr, size);
    if (chunk.rfind("HTTP/1.", 0) == 0 && chunk.size() > 9 && chunk[9] != '1') {
        const auto headEnd = chunk.find("\r\n\r\n");
        responseCloses_ =
            responseCloses_ ||
            chunk.substr(0, headEnd).find("\r\nConnection: close\r\n") != std::string_view::npos;
        // A final response's head (never an interim 100 Continue, which the
        // client awaits before sending its body): held for its body.
        if (heldHead_.empty() && headEnd != std::string_view::npos && headEnd + 4 == chunk.size() &&
            chunk.size() <= kBufferBytes) {
            if (!writeDeadline_) writeDeadline_ = Clock::now() + writeTimeout_;
            heldHead_.assign(chunk);
            return static_cast<ssize_t>(size);
        }
    }
    if (!heldHead_.empty()) {
        // The head and a small body in one sendmsg(). A body larger than
        // the buffer follows its head in a send of its own: sent together,
        // a 120 KB /openapi.json was 0.88x as fast (measured side by side,
        // docs/PERFORMANCE.md, issue 13). The held head is cleared, not
        // given away, so that its buffer serves the next response.
        const bool together = size <= kBufferBytes;
        const bool sent = sendAll(heldHead_, together ? chunk : std::string_view());
        heldHead_.clear();
        if (!sent) return -1;
        if (together) return static_cast<ssize_t>(size);
    }
    return send(ptr, size);
}

bool DeadlineStream::endResponse() {
    if (heldHead_.empty()) return true;
    const bool sent = sendAll(heldHead_, {});
    heldHead_.clear();
    return sent;
}

ssize_t DeadlineStream::send(const char* ptr, size_t size) {
    if (!writeDeadline_) writeDeadline_ = Clock::now() + writeTimeout_;
    for (;;) {
        // Non-blocking, tried first: only the poll waits, and only until the
        // deadline; a socket with room in its buffer costs no poll().
        const ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (!is_writable()) return -1;
    }
}

bool DeadlineStream::sendAll(std::string_view first, std::string_view second) {
    if (!writeDeadline_) writeDeadline_ = Clock::now() + writeTimeout_;
    for (;;) {
        if (first.empty()) {
            first = second;
            second = {};
        }
        if (first.empty()) return true;
        iovec parts[2] = {{const_cast<char*>(first.data()), first.size()},
                          {const_cast<char*>(second.data()), second.size()}};
        msghdr message{};
        message.msg_iov = parts;
        message.msg_iovlen = second.empty() ? 1 : 2;
        const ssize_t n = ::sendmsg(sock_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            if (!is_writable()) return false;
            continue;
        }
        auto sent = static_cast<size_t>(n);
        if (sent >= first.size()) {
            sent -= first.size();
            first = second.substr(sent);
            second = {};
        } else {
            first.remove_prefix(sent);
        }
    }
}

bool DeadlineStream::writeAll(const std::string& bytes) {
    // A head held when the request's read expired belongs to an answer that
    // was never finished (cpp-httplib had more to read): the caller's answer
    // replaces it, so the client never gets two answers to one request.
    if (expired_) heldHead_.clear();
    return endResponse() && sendAll(bytes, {});
}

void DeadlineStream::get_remote_ip_and_port(std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        addressOf(addr, ip, port);
}

void DeadlineStream::get_local_ip_and_port(std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        addressOf(addr, ip, port);
}

}  // namespace calltrack::api
