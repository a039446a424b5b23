#pragma once
// The intake spool: where a verified provider webhook or an unconditional
// call event goes when the database cannot take it in time, so that it can be
// answered 2xx and applied later (EventIntake). Files in a directory beside
// the database (default `<db>-spool/`), shared by every calltrack process on
// the host:
//
//   * each process appends only to segment files it owns: it creates them
//     (under a temporary name, renamed once it holds them), holds an
//     exclusive flock(2) on each for as long as it lives, and fsyncs every
//     record before append() returns;
//   * a segment whose flock is free belongs to a process that is gone: any
//     process may adopt it (flock is the lease: exactly one wins), replay
//     it and delete it;
//   * a record is consumed once its event is applied (the ledger row
//     committed with it, SpoolLedger); a drained segment of our own is
//     truncated, an adopted or sealed one deleted. A crash between the
//     commit and that leaves records the ledger then skips.
//
// Bounded: append() refuses (EngineError spool_full) when the files in the
// directory would exceed maxBytes, or the oldest record waiting here is older
// than maxAgeMs (the database has been unavailable too long for a spool to
// help); and (spool_unwritable) when the write or its fsync fails. Thread-safe.

#include "db/Clock.h"
#include "db/spool/SpoolRecord.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct SpoolOptions {
    std::string directory;
    uint64_t maxBytes = 256ull * 1024 * 1024;
    int64_t maxAgeMs = 24ll * 3600 * 1000;
    uint64_t segmentBytes = 16ull * 1024 * 1024;  // a larger segment is sealed, a new one started

    // "<database path>-spool"
    static std::string directoryFor(const std::string& databasePath);
};

struct SpoolStats {
    uint64_t pendingRecords = 0;  // held by this process (its own and adopted segments)
    uint64_t pendingBytes = 0;
    std::optional<int64_t> oldestPendingAtMs{};
    uint64_t hostBytes = 0;          // all segment files in the directory, at the last scan
    uint64_t otherProcessBytes = 0;  // of those, held by other live processes
    uint64_t appended = 0;           // since start
    uint64_t consumed = 0;
    uint64_t refusedFull = 0;
    uint64_t writeFailures = 0;
    bool writable = true;  // false while the last append failed
    uint64_t segmentsAdopted = 0;
    uint64_t corruptRegions = 0;  // damaged stretches skipped while reading
    uint64_t tornTails = 0;       // incomplete last records (a crash mid-append) skipped
};

class IntakeSpool {
  public:
    IntakeSpool(SpoolOptions options, const Clock& clock);
    ~IntakeSpool();
    IntakeSpool(const IntakeSpool&) = delete;
    IntakeSpool& operator=(const IntakeSpool&) = delete;

    // Durable once it returns. Throws EngineError spool_full or spool_unwritable.
    void append(const SpoolRecord& record);

    struct Pending {
        SpoolRecord record;
        uint64_t segment = 0;  // which segment, and where its frame ends
        uint64_t end = 0;
    };
    // Up to `max` records waiting in this process's segments, oldest
    // arrival first across segments. A record that cannot be decoded is
    // skipped and counted as corrupt.
    std::vector<Pending> next(size_t max);
    // These records (a prefix of what next() gave, per segment) are applied.
    void consume(const std::vector<Pending>& applied);

    // Looks for segments of processes that are gone, adopts them, and
    // measures what other live processes hold. Returns how many it adopted.
    int scan();

    // Whether any record on the host may be waiting: ours, or a non-empty
    // segment of another process at the last scan. While true, new events
    // are spooled behind them (arrival order) and the reaper waits.
    bool pendingOnHost() const;
    SpoolStats stats() const;

    // What is in a spool directory, read without taking anything over (for
    // `calltrack spool show`): every segment and its readable records.
    struct SegmentView {
        std::string file;
        bool heldByLiveProcess = false;  // its writer (or adopter) is running
        uint64_t bytes = 0;
        std::vector<SpoolRecord> records;
        uint64_t corruptRegions = 0;
        uint64_t tornTailBytes = 0;
    };
    static std::vector<SegmentView> inspect(const std::string& directory);
    const SpoolOptions& options() const { return options_; }

  private:
    struct Segment;
    Segment& activeSegment();  // mutex_ held
    void sealActive();         // mutex_ held
    void release(Segment& s, bool remove);

    SpoolOptions options_;
    const Clock& clock_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Segment>> segments_;  // guarded by mutex_
    uint64_t nextSegmentId_ = 1;                      // guarded by mutex_
    SpoolStats stats_;                                // guarded by mutex_
};

}  // namespace calltrack::db
