#pragma once
// The single writer of a process. Every write operation in calltrack is a
// function submitted here; one thread owns the read-write connection and runs
// whatever has been submitted as one transaction (group commit):
//
//   BEGIN IMMEDIATE
//     SAVEPOINT op; op 1; RELEASE op      <- an op that throws is rolled back
//     SAVEPOINT op; op 2; RELEASE op         to its savepoint alone
//     ...
//   COMMIT                                <- one fsync for the whole batch
//
// Invariants:
//  * an op's result is handed back only after the COMMIT that contains it
//    succeeded; if BEGIN or COMMIT fails, every op of the batch fails and
//    none of its writes is in the database;
//  * the writer never waits to fill a batch: it takes whatever is queued the
//    moment it is free, so a batch holds at most the ops submitted while the
//    previous batch was committing;
//  * an op that has not started by its deadline is not run at all, so a
//    caller that was told "deadline_exceeded" can rely on nothing having
//    happened;
//  * while the breaker (DatabaseBreaker) is open, run() throws
//    database_unavailable at once and nothing is queued; every batch
//    reports its outcome to it.

#include "db/EngineError.h"
#include "db/storage/Connection.h"
#include "db/storage/DatabaseBreaker.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace calltrack::db {

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline noDeadline() {
    return Deadline::max();
}

struct WriterOptions {
    ConnectionOptions connection;
    size_t maxBatch = 512;
    DatabaseBreaker::Options breaker{};
    const Clock* breakerClock = nullptr;  // the system clock if none
    // Called on the writer thread after each batch (ops in it, seconds from
    // taking it to its COMMIT or failure, whether it committed): metrics.
    // Must be cheap and must not throw.
    std::function<void(size_t ops, double seconds, bool committed)> onBatch{};
    // Added to the nice value the writer thread inherits (as nice(1) -n
    // does; Linux keeps it per thread) when it starts, the result clamped to
    // -20..19; 0 leaves it as inherited. Relative, so a process an operator
    // started at low priority keeps its writer below its peers. serve lowers
    // it: every write of the process goes through this one thread, so when
    // HTTP threads and it compete for the CPU, its share is the admissions/s.
    int threadNiceAdjustment = 0;
};

struct WriterStats {
    uint64_t commits = 0;
    uint64_t ops = 0;
    uint64_t failedBatches = 0;
    uint64_t busyBatches = 0;
    uint64_t largestBatch = 0;
    // Times the writer found another connection holding the lock (each wait
    // counted once, however long it polled).
    uint64_t lockWaits = 0;
};

class GroupCommitWriter {
  public:
    GroupCommitWriter(const std::string& path, const WriterOptions& options);
    ~GroupCommitWriter();
    GroupCommitWriter(const GroupCommitWriter&) = delete;
    GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

    // Runs fn(Connection&) inside the next batch and returns its result once
    // committed. Throws what fn threw, or EngineError (busy, storage_failure,
    // deadline_exceeded, shutting_down).
    template <class F>
    auto run(F&& fn, Deadline deadline = noDeadline()) -> std::invoke_result_t<F, Connection&> {
        using R = std::invoke_result_t<F, Connection&>;
        checkBreaker();
        auto op = std::make_shared<TypedOp<R, std::decay_t<F>>>(std::forward<F>(fn), deadline);
        enqueue({op});
        await(*op);
        if constexpr (!std::is_void_v<R>) return std::move(*op->result);
    }

    // Submits several functions at once so they share one batch when the
    // writer is idle; results (or errors) in the same order.
    template <class R>
    std::vector<std::pair<std::optional<R>, std::exception_ptr>> runAll(
        std::vector<std::function<R(Connection&)>> fns, Deadline deadline = noDeadline()) {
        using Op = TypedOp<R, std::function<R(Connection&)>>;
        checkBreaker();
        std::vector<std::shared_ptr<Op>> ops;
        std::vector<std::shared_ptr<PendingOp>> pending;
        for (auto& fn : fns) {
            ops.push_back(std::make_shared<Op>(std::move(fn), deadline));
            pending.push_back(ops.back());
        }
        enqueue(pending);
        std::vector<std::pair<std::optional<R>, std::exception_ptr>> out;
        for (auto& op : ops) {
            try {
                await(*op);
                out.emplace_back(std::move(op->result), nullptr);
            } catch (...) {
                out.emplace_back(std::nullopt, std::current_exception());
            }
        }
        return out;
    }

    // Stops taking work, finishes what is queued, joins the thread.
    void stop();
    WriterStats stats() const;
    // The writer thread's nice values: inherited, and the one
    // threadNiceAdjustment asked for. error is why that could not be set (an
    // errno: EACCES without CAP_SYS_NICE or a high enough RLIMIT_NICE),
    // kThreadNotStarted if the thread had not started within the
    // constructor's bounded wait, else 0. Known once the constructor returned.
    struct ThreadNice {
        int inherited = 0;
        int wanted = 0;
        int error = 0;
    };
    static constexpr int kThreadNotStarted = -1;
    ThreadNice threadNice() const;
    const std::string& path() const { return path_; }
    DatabaseBreaker& breaker() { return breaker_; }

  private:
    enum class Phase { queued, running, done, cancelled };

    struct PendingOp {
        explicit PendingOp(Deadline d) : deadline(d) {}
        virtual ~PendingOp() = default;
        virtual void execute(Connection& c) = 0;
        virtual void discardResult() = 0;
        Deadline deadline;
        std::exception_ptr error;
        std::mutex mutex;
        std::condition_variable cv;
        Phase phase = Phase::queued;  // guarded by mutex
    };

    template <class R, class F>
    struct TypedOp final : PendingOp {
        TypedOp(F f, Deadline d) : PendingOp(d), fn(std::move(f)) {}
        void execute(Connection& c) override {
            if constexpr (std::is_void_v<R>) {
                fn(c);
                result.emplace(true);
            } else {
                result.emplace(fn(c));
            }
        }
        void discardResult() override { result.reset(); }
        F fn;
        std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> result{};
    };

    void checkBreaker();
    void enqueue(const std::vector<std::shared_ptr<PendingOp>>& ops);
    void await(PendingOp& op);
    void loop();
    bool rollBackOp();
    void runBatch(std::vector<std::shared_ptr<PendingOp>>& batch);
    static void finish(PendingOp& op, std::exception_ptr error);

    std::string path_;
    WriterOptions options_;
    DatabaseBreaker breaker_;
    Connection connection_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<PendingOp>> queue_;  // guarded by mutex_
    bool stopping_ = false;                         // guarded by mutex_
    WriterStats stats_;                             // guarded by mutex_
    bool started_ = false;                          // guarded by mutex_
    std::condition_variable startedCv_;
    // Written by the thread before started_ is set, read after it (mutex_).
    ThreadNice threadNice_{};
    std::thread thread_;  // last: starts after the rest exists
};

}  // namespace calltrack::db
