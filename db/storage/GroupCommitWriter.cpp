#include "db/storage/GroupCommitWriter.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <SQLiteCpp/Exception.h>

#include <algorithm>
#include <cerrno>

namespace calltrack::db {

namespace {

// The breaker's clock when none is injected (WriterOptions::breakerClock).
const Clock& systemClock() {
    static const SystemClock clock;
    return clock;
}

// Errors after which SQLite may have rolled back the whole transaction (or
// the connection cannot be trusted to go on with it): the batch fails whole.
bool isBatchFatal(int primaryCode) {
    switch (primaryCode) {
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_NOMEM:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PROTOCOL:
        case SQLITE_INTERRUPT:
            return true;
        default:
            return false;
    }
}

EngineError storageError(const char* what, const SQLite::Exception& e) {
    const int code = e.getErrorCode();
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
        // SQLite's own text ("database is locked") would say it twice.
        return EngineError(ErrorCode::busy,
                           std::string(what) + ": the database is locked by another writer");
    }
    return EngineError(ErrorCode::storage_failure,
                       std::string(what) + " failed, nothing was written: " + e.what());
}

}  // namespace

GroupCommitWriter::GroupCommitWriter(const std::string& path, const WriterOptions& options)
    : path_(path),
      options_(options),
      breaker_(options.breakerClock ? *options.breakerClock : systemClock(), options.breaker),
      connection_(path, options.connection) {
    thread_ = std::thread([this] { loop(); });
    // threadNice() is known once the constructor returns (serve logs it);
    // the bound only guards against a thread that does not run for 10 s.
    std::unique_lock lock(mutex_);
    if (!startedCv_.wait_for(lock, std::chrono::seconds(10), [&] { return started_; }))
        threadNice_.error = kThreadNotStarted;
}

GroupCommitWriter::ThreadNice GroupCommitWriter::threadNice() const {
    std::lock_guard lock(mutex_);
    return threadNice_;
}

GroupCommitWriter::~GroupCommitWriter() {
    stop();
}

void GroupCommitWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

WriterStats GroupCommitWriter::stats() const {
    std::lock_guard lock(mutex_);
    WriterStats s = stats_;
    s.lockWaits = connection_.lockWaits();
    return s;
}

void GroupCommitWriter::checkBreaker() {
    if (breaker_.allow()) return;
    const auto snap = breaker_.snapshot();
    throw EngineError(ErrorCode::database_unavailable,
                      "the database failed the last writes (" + snap.lastError +
                          "); not tried again until the breaker's next probe");
}

void GroupCommitWriter::enqueue(const std::vector<std::shared_ptr<PendingOp>>& ops) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) throw EngineError(ErrorCode::shutting_down, "calltrack is shutting down");
        for (const auto& op : ops) queue_.push_back(op);
    }
    wake_.notify_one();
}

void GroupCommitWriter::await(PendingOp& op) {
    std::unique_lock lock(op.mutex);
    if (op.deadline != Deadline::max()) {
        if (!op.cv.wait_until(lock, op.deadline, [&] { return op.phase == Phase::done; })) {
            if (op.phase == Phase::queued) {
                // Not started: withdraw it, so nothing of it is ever written.
                op.phase = Phase::cancelled;
                throw EngineError(ErrorCode::deadline_exceeded,
                                  "the database could not take the write before the deadline");
            }
            // Started: its outcome is decided by the commit; wait for it.
        }
    }
    op.cv.wait(lock, [&] { return op.phase == Phase::done; });
    if (!op.error) return;
    // An engine error is thrown as a copy made here, owned by this thread
    // alone: the writer's exception object (one per failed batch, shared by
    // its ops) is released by whichever thread drops it last, through
    // libstdc++'s uninstrumented reference count, which ThreadSanitizer
    // cannot see ordering this thread's reads of it.
    try {
        std::rethrow_exception(op.error);
    } catch (const EngineError& e) {
        throw EngineError(e.code(), std::string(e.what()));
    }
}

void GroupCommitWriter::finish(PendingOp& op, std::exception_ptr error) {
    {
        std::lock_guard lock(op.mutex);
        if (error) {
            op.error = std::move(error);
            op.discardResult();
        }
        op.phase = Phase::done;
    }
    op.cv.notify_one();
}

void GroupCommitWriter::loop() {
    // Named for `top -H`, `ps -L` and profilers (at most 15 characters).
    pthread_setname_np(pthread_self(), "ct-writer");
    // who = 0 is the calling thread only: Linux keeps a nice value per
    // thread. getpriority may return -1 as a value; errno tells them apart.
    ThreadNice nice;
    errno = 0;
    nice.inherited = ::getpriority(PRIO_PROCESS, 0);
    nice.wanted = std::clamp(nice.inherited + options_.threadNiceAdjustment, -20, 19);
    if (errno != 0)
        nice.error = errno;
    else if (nice.wanted != nice.inherited && ::setpriority(PRIO_PROCESS, 0, nice.wanted) != 0)
        nice.error = errno;
    {
        std::lock_guard lock(mutex_);
        // A late start after the constructor gave up: keep its verdict.
        if (threadNice_.error == kThreadNotStarted) nice.error = kThreadNotStarted;
        threadNice_ = nice;
        started_ = true;
    }
    startedCv_.notify_all();
    std::vector<std::shared_ptr<PendingOp>> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            // An idle writer waits for work without a bound: enqueue() and
            // stop() change the predicate under mutex_ and notify after it,
            // so no wake-up is lost, and stop() always comes (the destructor).
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued has run
            while (!queue_.empty() && batch.size() < options_.maxBatch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        runBatch(batch);
        batch.clear();
    }
}

bool GroupCommitWriter::rollBackOp() {
    // If the rollback to the op's savepoint fails, its partial writes are
    // still in the transaction: the caller fails the whole batch, so they
    // never commit.
    return connection_.handle().tryExec("ROLLBACK TO op") == SQLITE_OK &&
           connection_.handle().tryExec("RELEASE op") == SQLITE_OK;
}

void GroupCommitWriter::runBatch(std::vector<std::shared_ptr<PendingOp>>& batch) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<PendingOp>> live;
    live.reserve(batch.size());
    for (auto& op : batch) {
        std::unique_lock lock(op->mutex);
        if (op->phase == Phase::cancelled) continue;
        if (op->deadline < now) {
            op->phase = Phase::done;
            op->error = std::make_exception_ptr(
                EngineError(ErrorCode::deadline_exceeded,
                            "the database could not take the write before the deadline"));
            lock.unlock();
            op->cv.notify_one();
            continue;
        }
        op->phase = Phase::running;
        live.push_back(op);
    }
    if (live.empty()) return;

    // BEGIN IMMEDIATE waits for another process's write lock no later than
    // the earliest deadline in the batch. When that passes, the ops past
    // their deadline fail as never started (nothing of them is written) and
    // the others wait on, up to their own deadlines.
    std::exception_ptr batchError;
    for (;;) {
        Deadline earliest = noDeadline();
        for (const auto& op : live) earliest = std::min(earliest, op->deadline);
        connection_.setLockDeadline(earliest == noDeadline() ? std::nullopt
                                                             : std::optional(earliest));
        try {
            Query(connection_, "BEGIN IMMEDIATE").run();
            break;
        } catch (const SQLite::Exception& e) {
            const bool busy = e.getErrorCode() == SQLITE_BUSY || e.getErrorCode() == SQLITE_LOCKED;
            const auto expired = std::stable_partition(
                live.begin(), live.end(), [now = std::chrono::steady_clock::now()](const auto& op) {
                    return op->deadline > now;
                });
            if (!busy || expired == live.end()) {
                batchError = std::make_exception_ptr(storageError("BEGIN", e));
                break;
            }
            breaker_.failure("locked by another writer past the deadline");
            for (auto it = expired; it != live.end(); ++it) {
                finish(**it, std::make_exception_ptr(EngineError(
                                 ErrorCode::deadline_exceeded,
                                 "the database stayed locked by another writer until the "
                                 "deadline; nothing was written")));
            }
            live.erase(expired, live.end());
            if (live.empty()) {
                connection_.setLockDeadline(std::nullopt);
                return;
            }
        }
    }
    connection_.setLockDeadline(std::nullopt);

    if (!batchError) {
        for (auto& op : live) {
            try {
                Query(connection_, "SAVEPOINT op").run();
                op->execute(connection_);
                Query(connection_, "RELEASE op").run();
            } catch (const SQLite::Exception& e) {
                if (isBatchFatal(e.getErrorCode()) || connection_.inAutocommit()) {
                    batchError = std::make_exception_ptr(storageError("write", e));
                    break;
                }
                op->error = std::make_exception_ptr(EngineError(
                    ErrorCode::internal, std::string("database rejected the write: ") + e.what()));
                if (!rollBackOp()) {
                    batchError = op->error;
                    break;
                }
            } catch (...) {
                op->error = std::current_exception();
                if (connection_.inAutocommit() || !rollBackOp()) {
                    batchError = op->error;
                    break;
                }
            }
        }
    }

    if (!batchError) {
        try {
            Query(connection_, "COMMIT").run();
        } catch (const SQLite::Exception& e) {
            batchError = std::make_exception_ptr(storageError("COMMIT", e));
        }
    }
    if (batchError && !connection_.inAutocommit()) connection_.handle().tryExec("ROLLBACK");

    std::optional<std::string> storageTrouble;
    {
        std::lock_guard lock(mutex_);
        if (batchError) {
            ++stats_.failedBatches;
            try {
                std::rethrow_exception(batchError);
            } catch (const EngineError& e) {
                if (e.code() == ErrorCode::busy) ++stats_.busyBatches;
                if (e.code() == ErrorCode::busy || e.code() == ErrorCode::storage_failure)
                    storageTrouble = e.what();
            } catch (...) {
            }
        } else {
            ++stats_.commits;
            stats_.ops += live.size();
            stats_.largestBatch = std::max<uint64_t>(stats_.largestBatch, live.size());
        }
    }
    if (options_.onBatch) {
        options_.onBatch(
            live.size(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - now).count(),
            !batchError);
    }
    if (!batchError) {
        breaker_.success();
    } else if (storageTrouble) {
        breaker_.failure(*storageTrouble);
    }
    // On a failed batch every op fails, including those whose own part
    // succeeded: their writes were rolled back with the batch. Each gets an
    // exception object of its own: one shared by the waiting threads would
    // be freed by whichever drops it last, through a reference count
    // ThreadSanitizer cannot see ordering the others' reads of it.
    std::optional<EngineError> batchFailure;
    if (batchError) {
        try {
            std::rethrow_exception(batchError);
        } catch (const EngineError& e) {
            batchFailure.emplace(e.code(), std::string(e.what()));
        } catch (const std::exception& e) {
            batchFailure.emplace(ErrorCode::storage_failure,
                                 std::string("the batch failed, nothing was written: ") + e.what());
        } catch (...) {
            batchFailure.emplace(ErrorCode::storage_failure,
                                 "the batch failed, nothing was written");
        }
    }
    for (auto& op : live) {
        finish(*op, batchFailure ? std::make_exception_ptr(EngineError(
                                       batchFailure->code(), std::string(batchFailure->what())))
                                 : op->error);
    }
}

}  // namespace calltrack::db
