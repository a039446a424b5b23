#pragma once
// Read-only connections for queries, so reads never queue behind the writer
// (WAL: readers see the last committed snapshot and do not block writers).
// Each read runs in its own read transaction: a consistent snapshot, ended
// when the function returns, so no reader ever pins the WAL.
// Waiting for a free connection is bounded (`maxWait`, or the caller's
// deadline): past it, EngineError storage_unavailable. So is every failure
// of SQLite inside a read: an I/O error or a locked schema is "the storage
// could not be read", never a bug.

#include "db/EngineError.h"
#include "db/storage/Connection.h"

#include <SQLiteCpp/Exception.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace calltrack::db {

class ReadPool {
  public:
    using Deadline = std::chrono::steady_clock::time_point;

    ReadPool(const std::string& path, size_t size, ConnectionOptions options,
             std::chrono::milliseconds maxWait = std::chrono::seconds(2));

    template <class F>
    auto read(F&& fn) -> std::invoke_result_t<F, Connection&> {
        return read(std::chrono::steady_clock::now() + maxWait_, std::forward<F>(fn));
    }
    template <class F>
    auto read(Deadline deadline, F&& fn) -> std::invoke_result_t<F, Connection&> {
        Lease lease(*this, deadline);
        try {
            Snapshot snapshot(*lease.connection);
            return fn(*lease.connection);
        } catch (const SQLite::Exception& e) {
            throw EngineError(ErrorCode::storage_unavailable, e.what());
        }
    }
    size_t size() const { return size_; }

  private:
    struct Lease {
        Lease(ReadPool& p, Deadline deadline);
        ~Lease();
        ReadPool& pool;
        std::unique_ptr<Connection> connection;
    };
    struct Snapshot {
        explicit Snapshot(Connection& c);
        ~Snapshot();
        Connection& connection;
    };

    const size_t size_;
    const std::chrono::milliseconds maxWait_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

}  // namespace calltrack::db
