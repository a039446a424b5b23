#pragma once
// Answers the connections beyond the cap without a worker: reads what the
// client sends for a short while, writes one 503 `overloaded` with
// Retry-After, half-closes, and closes on the client's EOF or after a
// bound. Reading first matters: closing a socket with unread request bytes
// sends a reset, which can destroy the answer before the client reads it.
// One thread and poll(); at most kMaxHeld sockets at a time, beyond which a
// socket is closed at once. take() never blocks the accepting thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace calltrack::api {

class OverloadRejecter {
  public:
    // `response` renders the whole HTTP response (status line to body) for
    // one rejected connection; it runs on the rejecter's thread.
    explicit OverloadRejecter(std::function<std::string()> response);
    ~OverloadRejecter();
    OverloadRejecter(const OverloadRejecter&) = delete;
    OverloadRejecter& operator=(const OverloadRejecter&) = delete;

    // Takes ownership of the socket. False: it was closed at once, without
    // an answer (kMaxHeld are held already, or the rejecter is stopping).
    [[nodiscard]] bool take(int fd);
    static constexpr size_t kMaxHeld = 256;

  private:
    struct Held {
        int fd;
        std::chrono::steady_clock::time_point since;
        bool answered = false;
        std::string head;  // the last bytes read, to find the end of the request head
    };
    void run();
    void answer(Held& h);

    std::function<std::string()> response_;
    int wakeRead_ = -1;
    int wakeWrite_ = -1;
    std::mutex mutex_;
    std::vector<int> incoming_;  // guarded by mutex_
    size_t held_ = 0;            // held + incoming; guarded by mutex_
    bool stop_ = false;          // guarded by mutex_
    std::thread thread_;
};

}  // namespace calltrack::api
