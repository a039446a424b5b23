#pragma once
// Read-only connections for queries, so reads never queue behind the writer
// (WAL: readers see the last committed snapshot and do not block writers).
// Each read runs in its own read transaction: a consistent snapshot, ended
// when the function returns, so no reader ever pins the WAL.

#include "db/Connection.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace calltrack::db {

class ReadPool {
  public:
    ReadPool(const std::string& path, size_t size, ConnectionOptions options);

    template <class F>
    auto read(F&& fn) -> std::invoke_result_t<F, Connection&> {
        Lease lease(*this);
        Snapshot snapshot(*lease.connection);
        return fn(*lease.connection);
    }

  private:
    struct Lease {
        explicit Lease(ReadPool& p);
        ~Lease();
        ReadPool& pool;
        std::unique_ptr<Connection> connection;
    };
    struct Snapshot {
        explicit Snapshot(Connection& c);
        ~Snapshot();
        Connection& connection;
    };

    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

}  // namespace calltrack::db
