#pragma once
// A fleet of fake voice bots for the warm-up scheduler tests (issue 4 §5): one
// local HTTP server (127.0.0.1, a free port) answering POST
// /bots/{id}/warmup, with a behaviour per bot that a test may change at any
// time from any thread: a delay, a failure rate (seeded, so a run can be
// repeated), "fail the next N requests", the error status to fail with, and
// hang (no answer until the behaviour changes or the fleet is destroyed).
//
// It records what the scheduler did to it: requests per bot, in flight now
// and at most, the X-Calltrack-Attempt-Id of every request and when each
// started and ended. Thread-safe.
//
// The server has its own large worker pool (64 threads), so the fleet is
// never what limits the parallelism a test measures: a hung request holds one
// of its workers, never the scheduler's. It is safe under ThreadSanitizer,
// although cpp-httplib is not built with it (see the constructor).

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace calltrack::test {

class FakeBotFleet {
  public:
    struct Behaviour {
        int delayMs = 0;           // before answering
        double failureRate = 0.0;  // 0..1: the share of requests answered with errorStatus
        int failNext = 0;          // the next N requests fail whatever failureRate says
                                   // (for the default behaviour: N among all its bots)
        int errorStatus = 503;     // the status of a failed request
        bool hang = false;         // never answer while set (until the fleet stops)
        int trickleMs = 0;         // > 0: answer 200 but send the body one byte per trickleMs, for
                                   // ever (until the fleet stops): every read succeeds, so only an
                                   // overall deadline ends it
        size_t bodyBytes = 0;      // > 0: answer 200 with a body of this many bytes
    };

    using Steady = std::chrono::steady_clock;
    struct Request {
        std::string botId;
        std::string attemptId;  // X-Calltrack-Attempt-Id ("" if absent)
        Steady::time_point startedAt;
        std::optional<Steady::time_point> endedAt{};  // absent while in flight
        int status = 0;                               // what the fleet answered; 0 while in flight
    };

    explicit FakeBotFleet(uint64_t seed = 42);
    // Releases hung requests (answered 503), stops the server, joins its thread.
    ~FakeBotFleet();
    FakeBotFleet(const FakeBotFleet&) = delete;
    FakeBotFleet& operator=(const FakeBotFleet&) = delete;

    int port() const { return port_; }
    // The warm-up URL to register for botId. Several bots may share one
    // (behaviour and statistics are per URL id: that is one endpoint).
    std::string url(const std::string& botId) const;

    // The behaviour of bots not configured one by one.
    void setDefault(const Behaviour& behaviour);
    void set(const std::string& botId, const Behaviour& behaviour);
    void setDelay(const std::string& botId, int delayMs);
    void setFailureRate(const std::string& botId, double rate);
    void failNext(const std::string& botId, int n);
    void setErrorStatus(const std::string& botId, int status);
    void setHang(const std::string& botId, bool hang);
    // Every bot, configured or not, answers at once with 200: also releases
    // every hung request (with 200, though its client has usually gone).
    void answerAllOk();

    int requests(const std::string& botId) const;
    int total() const;
    int inFlight() const;
    int maxInFlight() const;
    // Requests that are hanging right now.
    int hanging() const;
    std::vector<std::string> attemptIds(const std::string& botId) const;
    std::vector<Request> history() const;  // every request, in arrival order
    std::vector<Request> history(const std::string& botId) const;

  private:
    void handle(const httplib::Request& req, httplib::Response& res);
    template <class F>
    void modify(const std::string& botId, F&& change);
    // The bot's own behaviour, or the default (mutex_ held).
    Behaviour& behaviourLocked(const std::string& botId);

    mutable std::mutex mutex_;
    std::condition_variable cv_;                   // behaviour changed or stopping
    bool stopping_ = false;                        // guarded by mutex_
    Behaviour default_;                            // guarded by mutex_
    std::map<std::string, Behaviour> behaviours_;  // guarded by mutex_
    std::mt19937_64 rng_;                          // guarded by mutex_
    std::vector<Request> history_;                 // guarded by mutex_
    int inFlight_ = 0;                             // guarded by mutex_
    int maxInFlight_ = 0;                          // guarded by mutex_
    int hanging_ = 0;                              // guarded by mutex_

    // Every connection's task passes this gate at its start and its end (see
    // the constructor); tasksDone_ counts the finished ones.
    std::mutex gateMutex_;
    std::condition_variable gateCv_;
    int tasksDone_ = 0;  // guarded by gateMutex_

    httplib::Server server_;
    int port_ = 0;
    std::atomic<bool> listenReturned_{false};
    std::thread thread_;
};

}  // namespace calltrack::test
