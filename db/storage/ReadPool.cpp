#include "db/storage/ReadPool.h"

namespace calltrack::db {

ReadPool::ReadPool(const std::string& path, size_t size, ConnectionOptions options,
                   std::chrono::milliseconds maxWait)
    : size_(std::max<size_t>(size, 1)), maxWait_(maxWait) {
    options.readOnly = true;
    options.create = false;
    for (size_t i = 0; i < std::max<size_t>(size, 1); ++i) {
        idle_.push_back(std::make_unique<Connection>(path, options));
    }
}

ReadPool::Lease::Lease(ReadPool& p, Deadline deadline) : pool(p) {
    std::unique_lock lock(pool.mutex_);
    if (!pool.available_.wait_until(lock, deadline, [&] { return !pool.idle_.empty(); })) {
        throw EngineError(ErrorCode::storage_unavailable,
                          "all " + std::to_string(pool.size_) +
                              " read connections stayed in use past the deadline");
    }
    connection = std::move(pool.idle_.back());
    pool.idle_.pop_back();
}

ReadPool::Lease::~Lease() {
    {
        std::lock_guard lock(pool.mutex_);
        pool.idle_.push_back(std::move(connection));
    }
    pool.available_.notify_one();
}

ReadPool::Snapshot::Snapshot(Connection& c) : connection(c) {
    Query(c, "BEGIN").run();
}

ReadPool::Snapshot::~Snapshot() {
    // A read transaction has nothing to lose; ROLLBACK also ends it after an
    // error that left it half-open.
    connection.handle().tryExec("ROLLBACK");
}

}  // namespace calltrack::db
