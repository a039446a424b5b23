// How DeadlineStream puts a response on the wire (issue 13). cpp-httplib
// writes a response's head and its body in two writes; sent as they come,
// they are two TCP segments and can wake the client twice. The stream holds
// a final response's head for its body and sends both at once; a head with
// no body to follow (HEAD, 204) goes out when the response ends, and an
// interim 100 Continue at once. A SOCK_SEQPACKET pair keeps every send() a
// record of its own, so each test sees exactly how many sends were made.

#include "api/connection/DeadlineStream.h"
#include "tests/RawConnection.h"
#include "tests/ServeProcess.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

using calltrack::api::DeadlineStream;
using calltrack::test::RawConnection;
using calltrack::test::ServeProcess;
using namespace std::chrono_literals;

namespace {

struct RecordPair {
    RecordPair() {
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
        stream.emplace(fds[0], 1000ms);
        stream->beginRequest(DeadlineStream::Clock::now() + 5s);
    }
    ~RecordPair() {
        stream.reset();
        ::close(fds[0]);
        ::close(fds[1]);
    }
    bool write(const std::string& bytes) {
        return stream->write(bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    }
    // The next record the peer receives, or "" when none is waiting.
    std::string nextRecord() {
        std::string buf(64 * 1024, '\0');
        const ssize_t n = ::recv(fds[1], buf.data(), buf.size(), MSG_DONTWAIT);
        return n > 0 ? buf.substr(0, static_cast<size_t>(n)) : std::string();
    }
    int fds[2] = {-1, -1};
    std::optional<DeadlineStream> stream;
};

const std::string kHead = "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\n";

// Reads one response head (up to its blank line) within the socket's bound.
std::string readHead(int fd) {
    std::string in;
    char c;
    while (in.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) in += c;
    return in;
}

}  // namespace

TEST_SUITE("connection stream") {
    TEST_CASE("a response's head and body leave in one send") {
        RecordPair p;
        CHECK(p.write(kHead));
        CHECK(p.nextRecord().empty());  // held for the body
        CHECK(p.write("hello"));
        CHECK(p.nextRecord() == kHead + "hello");
        CHECK(p.stream->endResponse());
        CHECK(p.nextRecord().empty());
    }

    TEST_CASE("a head without a body goes out when the response ends") {
        RecordPair p;
        CHECK(p.write(kHead));
        CHECK(p.nextRecord().empty());
        CHECK(p.stream->endResponse());
        CHECK(p.nextRecord() == kHead);
    }

    TEST_CASE("an interim 100 Continue is sent at once, the final head is held") {
        RecordPair p;
        const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
        CHECK(p.write(interim));
        CHECK(p.nextRecord() == interim);
        CHECK(p.write(kHead));
        CHECK(p.write("hello"));
        CHECK(p.nextRecord() == kHead + "hello");
    }

    TEST_CASE("a body larger than the stream's buffer follows its head in a send of its own") {
        // Sent together with its head, a 120 KB body was slower (0.88x,
        // docs/PERFORMANCE.md): the hold is for small answers.
        RecordPair p;
        const std::string body(10000, 'x');
        CHECK(p.write(kHead));
        CHECK(p.write(body));
        CHECK(p.nextRecord() == kHead);
        CHECK(p.nextRecord() == body);
    }

    TEST_CASE("a head larger than the stream's buffer is not held") {
        RecordPair p;
        const std::string head = "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(4096, 'p') + "\r\n\r\n";
        CHECK(p.write(head));
        CHECK(p.nextRecord() == head);
    }

    TEST_CASE("heads and bodies bigger than the socket's buffer arrive whole and in order") {
        // A byte stream with a small send buffer: one sendmsg() of a held
        // head (4 000 bytes) and its body (4 096) takes part of them at a
        // time, and the stream must go on from the exact byte where the last
        // one stopped, across the boundary of the two.
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        const int small = 4096;
        ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        std::string received;
        std::thread reader([&] {
            char buf[1024];
            for (;;) {
                const ssize_t n = ::recv(fds[1], buf, sizeof buf, 0);
                if (n <= 0) break;
                received.append(buf, static_cast<size_t>(n));
            }
        });
        std::string expected;
        {
            DeadlineStream stream(fds[0], 10000ms);
            for (int i = 0; i < 200; ++i) {
                stream.beginRequest(DeadlineStream::Clock::now() + 5s);
                const std::string head = "HTTP/1.1 200 OK\r\nX-Response: " + std::to_string(i) +
                                         "\r\nX-Pad: " + std::string(3950, 'h') + "\r\n\r\n";
                const std::string body(4096, static_cast<char>('a' + i % 26));
                CHECK(stream.write(head.data(), head.size()) == static_cast<ssize_t>(head.size()));
                CHECK(stream.write(body.data(), body.size()) == static_cast<ssize_t>(body.size()));
                CHECK(stream.endResponse());
                expected += head + body;
            }
        }
        ::shutdown(fds[0], SHUT_WR);
        reader.join();
        ::close(fds[0]);
        ::close(fds[1]);
        CHECK(received.size() == expected.size());
        CHECK(received == expected);
    }

    TEST_CASE("a head held when the request's read expires is replaced by the canned answer") {
        // cpp-httplib can write a final head (417 to an Expect it refuses)
        // and then go on reading the body; when that read expires, the
        // client must get the 408 alone, not two answers to one request.
        RecordPair p;
        p.stream->beginRequest(DeadlineStream::Clock::now() - 1ms);
        const std::string refused = "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n";
        CHECK(p.write(refused));
        char c;
        CHECK(p.stream->read(&c, 1) < 0);
        REQUIRE(p.stream->expired());
        CHECK(p.stream->writeAll("canned 408"));
        CHECK(p.nextRecord() == "canned 408");
        CHECK(p.nextRecord().empty());
    }

    TEST_CASE("a canned answer is written after a held head, never before it") {
        RecordPair p;
        CHECK(p.write(kHead));
        CHECK(p.stream->writeAll("canned"));
        CHECK(p.nextRecord() == kHead);
        CHECK(p.nextRecord() == "canned");
    }

    TEST_CASE("a failed peer fails the held head's send") {
        RecordPair p;
        CHECK(p.write(kHead));
        ::close(p.fds[1]);
        p.fds[1] = -1;
        CHECK_FALSE(p.write("hello"));
    }

    TEST_CASE("serve answers HEAD and a 204 and keeps the connection") {
        ServeProcess serve;
        RawConnection c(serve.port());
        REQUIRE(c.send("HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        const std::string head = readHead(c.fd());
        INFO(head);
        CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
        // The same connection serves the next request, and no body of the
        // HEAD response comes before it.
        REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        const std::string next = c.readResponse();
        INFO(next);
        CHECK(next.rfind("HTTP/1.1 200", 0) == 0);
        // A 204 has no body either: its held head goes out when the response
        // ends, and the connection serves the next request.
        REQUIRE(
            c.send("DELETE /v1/alert-rules/default-refusal-rate HTTP/1.1\r\n"
                   "Host: 127.0.0.1\r\n\r\n"));
        const std::string deleted = readHead(c.fd());
        INFO(deleted);
        CHECK(deleted.rfind("HTTP/1.1 204", 0) == 0);
        REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        const std::string after = c.readResponse();
        INFO(after);
        CHECK(after.rfind("HTTP/1.1 200", 0) == 0);
    }
}
