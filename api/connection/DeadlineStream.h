#pragma once
// One connection's socket as a cpp-httplib Stream, with an overall deadline
// per request: every read waits no later than the deadline of the request
// being read, so a client that sends a byte every few seconds cannot hold
// its thread past it (cpp-httplib's own stream bounds each read, not the
// request). Kept for the connection's whole life, so bytes of a pipelined
// next request read with this one are not lost.

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calltrack::api {

class DeadlineStream : public httplib::Stream {
  public:
    using Clock = std::chrono::steady_clock;

    DeadlineStream(int sock, std::chrono::milliseconds writeTimeout);

    // Starts a request: reads from now on end at `deadline`.
    void beginRequest(Clock::time_point deadline);
    // The request being read ran past its deadline. From then on writes are
    // discarded (reported as written): what cpp-httplib answers a request
    // cut off mid-headers (400) is replaced by the caller's 408.
    bool expired() const { return expired_; }
    // Bytes read for the request begun last (a connection closed before
    // sending any is not a slow client).
    size_t bytesReadInRequest() const { return requestBytes_; }
    // The response written for this request says `Connection: close`
    // (cpp-httplib sends the header but keeps reading the connection).
    bool responseCloses() const { return responseCloses_; }
    // Writes all of `bytes`, expired or not, within the response's write
    // deadline (after any response head still held).
    bool writeAll(const std::string& bytes);
    // The request's response is complete: sends a head still held (a
    // response without a body: HEAD, 204, 304). False when the connection
    // failed.
    bool endResponse();
    // Waits up to `wait` for the first byte of a next request; true when
    // there is one (already buffered, or readable), or the connection
    // failed (the next read then ends it).
    bool waitForData(std::chrono::milliseconds wait) const;

    bool is_readable() const override;
    bool is_writable() const override;
    ssize_t read(char* ptr, size_t size) override;
    ssize_t write(const char* ptr, size_t size) override;
    void get_remote_ip_and_port(std::string& ip, int& port) const override;
    void get_local_ip_and_port(std::string& ip, int& port) const override;
    socket_t socket() const override { return sock_; }

  private:
    // poll() for `events` until the request deadline (reads) or the write
    // timeout (writes); > 0 ready, 0 timed out, < 0 error.
    int waitFor(short events, Clock::time_point until) const;
    ssize_t send(const char* ptr, size_t size);
    // Sends all of `first`, then all of `second`, in as few sendmsg()
    // calls as the socket allows (one when its buffer has room).
    bool sendAll(std::string_view first, std::string_view second);

    int sock_;
    std::chrono::milliseconds writeTimeout_;
    Clock::time_point deadline_{};
    bool expired_ = false;
    size_t requestBytes_ = 0;
    bool responseCloses_ = false;
    // Set by the request's first write: all of its response must be taken
    // by then, so a client that reads a few bytes at a time cannot hold
    // the thread past it.
    std::optional<Clock::time_point> writeDeadline_;
    // A final response's status line and headers, held until the response's
    // next write (its body) so that both leave in one send: one TCP segment
    // and one wake-up of the client instead of two. cpp-httplib writes the
    // head and the body separately. A response whose body is produced later
    // (a content provider that waits) would keep its head until its first
    // write: calltrack has none.
    std::string heldHead_;
    std::vector<char> buffer_;
    size_t bufferOffset_ = 0;
    size_t bufferEnd_ = 0;
};

}  // namespace calltrack::api
