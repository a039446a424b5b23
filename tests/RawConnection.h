#pragma once
// A raw client socket to a server under test (loopback), for requests that
// a well-behaved HTTP client would never send: partial heads, trickles,
// smuggled bodies.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

namespace calltrack::test {

// One client socket to the server under test, blocking, with a receive
// timeout so that a test can never hang on it.
class RawConnection {
  public:
    explicit RawConnection(int port,
                           std::chrono::milliseconds recvTimeout = std::chrono::seconds(5)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        timeval tv{};
        tv.tv_sec = recvTimeout.count() / 1000;
        tv.tv_usec = (recvTimeout.count() % 1000) * 1000;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~RawConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // Closes with a reset (SO_LINGER 0), as wrk and crashed clients do.
    void reset() {
        linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }
    bool send(const std::string& bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(bytes.size());
    }
    // Reads until the peer closes, the receive timeout fires, or a whole
    // response (head plus Content-Length bytes) is in.
    std::string readResponse() {
        std::string in;
        char buf[4096];
        for (;;) {
            const auto head = in.find("\r\n\r\n");
            if (head != std::string::npos) {
                const auto cl = in.find("Content-Length: ");
                if (cl != std::string::npos && cl < head) {
                    const size_t length = std::stoul(in.substr(cl + 16));
                    if (in.size() >= head + 4 + length) return in;
                }
            }
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return in;
            in.append(buf, static_cast<size_t>(n));
        }
    }
    // True when the server has closed the connection (EOF or reset) within
    // the receive timeout, discarding anything it sent first.
    bool closedByServer() {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
        }
    }

  private:
    int fd_ = -1;
};

}  // namespace calltrack::test
