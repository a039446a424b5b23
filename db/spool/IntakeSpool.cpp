#include "db/spool/IntakeSpool.h"

#include "db/EngineError.h"
#include "db/spool/SpoolFile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace calltrack::db {

namespace {

constexpr const char* kSuffix = ".spool";
constexpr const char* kTempPrefix = ".tmp-";
// What next() reads of a segment at a time.
constexpr uint64_t kReadChunk = 4ull * 1024 * 1024;

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string errnoText(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// The bytes [from, to) of fd.
bool readRange(int fd, uint64_t from, uint64_t to, std::string& out) {
    out.resize(to - from);
    size_t got = 0;
    while (got < out.size()) {
        const auto n =
            ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            out.resize(got);
            return n == 0;
        }
        got += static_cast<size_t>(n);
    }
    return true;
}

void fsyncDirectory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

struct IntakeSpool::Segment {
    uint64_t id = 0;
    std::string path;
    int fd = -1;
    bool own = false;     // this process appended it
    bool active = false;  // this process appends to it now
    uint64_t size = 0;
    uint64_t appliedTo = 0;
    // Records not yet applied, in file order: where each ends, when it came.
    std::deque<std::pair<uint64_t, int64_t>> pending;
};

std::string SpoolOptions::directoryFor(const std::string& databasePath) {
    return databasePath + "-spool";
}

IntakeSpool::IntakeSpool(SpoolOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
    if (::mkdir(options_.directory.c_str(), 0700) != 0 && errno != EEXIST) {
        throw EngineError(
            ErrorCode::spool_unwritable,
            errnoText(("cannot create the spool directory " + options_.directory).c_str()));
    }
    struct stat st {};
    if (::stat(options_.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw EngineError(ErrorCode::spool_unwritable,
                          "the spool path " + options_.directory + " is not a directory");
    }
}

IntakeSpool::~IntakeSpool() {
    std::lock_guard lock(mutex_);
    for (auto& s : segments_) release(*s, s->pending.empty() && s->size == 0);
    segments_.clear();
}

void IntakeSpool::release(Segment& s, bool remove) {
    if (s.fd < 0) return;
    // Removed while still locked: no other process can adopt it in between.
    if (remove) ::unlink(s.path.c_str());
    ::close(s.fd);
    s.fd = -1;
}

IntakeSpool::Segment& IntakeSpool::activeSegment() {
    for (auto& s : segments_)
        if (s->active) return *s;
    // Created under a temporary name and renamed once locked: a scanning
    // process never adopts a segment whose creator is alive.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const std::string name = std::to_string(clock_.nowMs()) + "-" + std::to_string(::getpid()) +
                                 "-" + SpoolRecord::newKey().substr(0, 8) + kSuffix;
        const std::string temp = options_.directory + "/" + kTempPrefix + name;
        const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            ++stats_.writeFailures;
            stats_.writable = false;
            throw EngineError(ErrorCode::spool_unwritable,
                              errnoText("cannot create a spool segment"));
        }
        const std::string path = options_.directory + "/" + name;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
            // Another process's scan took the empty file for an orphan: again.
            ::close(fd);
            continue;
        }
        fsyncDirectory(options_.directory);
        auto s = std::make_unique<Segment>();
        s->id = nextSegmentId_++;
        s->path = path;
        s->fd = fd;
        s->own = true;
        s->active = true;
        segments_.push_back(std::move(s));
        return *segments_.back();
    }
    ++stats_.writeFailures;
    stats_.writable = false;
    throw EngineError(ErrorCode::spool_unwritable, "cannot create a spool segment");
}

void IntakeSpool::sealActive() {
    for (auto& s : segments_) {
        if (!s->active) continue;
        s->active = false;
        if (s->pending.empty()) {
            release(*s, true);
            segments_.erase(std::find(segments_.begin(), segments_.end(), s));
        }
        return;
    }
}

void IntakeSpool::append(const SpoolRecord& record) {
    const std::string bytes = SpoolFile::frame(SpoolRecord::encode(record));
    std::lock_guard lock(mutex_);
    uint64_t hostBytes = stats_.otherProcessBytes;
    std::optional<int64_t> oldest;
    for (const auto& s : segments_) {
        hostBytes += s->size;
        if (!s->pending.empty())
            oldest = std::min(oldest.value_or(INT64_MAX), s->pending.front().second);
    }
    if (hostBytes + bytes.size() > options_.maxBytes) {
        ++stats_.refusedFull;
        throw EngineError(ErrorCode::spool_full, "the intake spool is full (" +
                                                     std::to_string(hostBytes) + " of " +
                                                     std::to_string(options_.maxBytes) + " bytes)");
    }
    if (oldest && clock_.nowMs() - *oldest > options_.maxAgeMs) {
        ++stats_.refusedFull;
        throw EngineError(ErrorCode::spool_full,
                          "the intake spool's oldest record is older than its age limit (" +
                              std::to_string(options_.maxAgeMs / 1000) + " s)");
    }
    Segment* s = &activeSegment();
    if (s->size > 0 && s->size + bytes.size() > options_.segmentBytes) {
        sealActive();
        s = &activeSegment();
    }
    size_t written = 0;
    while (written < bytes.size()) {
        const auto n = ::write(s->fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = errnoText("spool write failed");
            ++stats_.writeFailures;
            stats_.writable = false;
            // Take the partial frame back; if that fails too, the next
            // record goes to a new segment and the reader skips the tear.
            if (::ftruncate(s->fd, static_cast<off_t>(s->size)) != 0) sealActive();
            throw EngineError(ErrorCode::spool_unwritable, why);
        }
        written += static_cast<size_t>(n);
    }
    if (::fdatasync(s->fd) != 0) {
        // Not known to be on disk: taken back (the caller is told nothing
        // was stored), and this file takes no more records. If the
        // truncation fails too, the record may be replayed: at least once.
        const std::string why = errnoText("spool fsync failed");
        ++stats_.writeFailures;
        stats_.writable = false;
        if (::ftruncate(s->fd, static_cast<off_t>(s->size)) != 0) {
            s->size += bytes.size();
            s->pending.emplace_back(s->size, record.receivedAtMs);
        }
        sealActive();
        throw EngineError(ErrorCode::spool_unwritable, why);
    }
    s->size += bytes.size();
    s->pending.emplace_back(s->size, record.receivedAtMs);
    ++stats_.appended;
    stats_.writable = true;
}

std::vector<IntakeSpool::Pending> IntakeSpool::next(size_t max) {
    struct View {
        uint64_t id;
        int fd;
        uint64_t from, to;
    };
    std::vector<View> views;
    {
        std::lock_guard lock(mutex_);
        for (const auto& s : segments_)
            if (!s->pending.empty()) views.push_back({s->id, s->fd, s->appliedTo, s->size});
    }
    // Each segment's next records, in its order. The descriptors stay open:
    // only consume() (the same caller) closes a segment.
    std::vector<std::vector<Pending>> perSegment;
    uint64_t corrupt = 0;
    for (const auto& v : views) {
        const uint64_t to = std::min(v.to, v.from + kReadChunk + SpoolFile::kMaxPayload);
        std::string bytes;
        if (!readRange(v.fd, v.from, to, bytes)) continue;
        const auto scan = SpoolFile::scan(bytes, v.from, v.from + bytes.size() == v.to, max);
        corrupt += static_cast<uint64_t>(scan.corruptRegions);
        std::vector<Pending> out;
        uint64_t lastEnd = v.from;
        for (const auto& f : scan.frames) {
            lastEnd = f.end;
            Pending p;
            p.segment = v.id;
            p.end = f.end;
            try {
                p.record = SpoolRecord::decode(f.payload);
            } catch (const EngineError&) {
                ++corrupt;
                p.record.key.clear();  // consumed without being applied
            }
            out.push_back(std::move(p));
        }
        if (scan.end > lastEnd) {
            // Damaged or torn bytes after the last good frame: consumed
            // without being applied, so that the segment can drain.
            Pending skip;
            skip.segment = v.id;
            skip.end = scan.end;
            skip.record.receivedAtMs = INT64_MAX;  // after everything readable
            out.push_back(std::move(skip));
        }
        perSegment.push_back(std::move(out));
    }
    if (corrupt > 0) {
        std::lock_guard lock(mutex_);
        stats_.corruptRegions += corrupt;
    }
    // Merge by arrival, each segment's own order kept.
    std::vector<Pending> merged;
    std::vector<size_t> at(perSegment.size(), 0);
    while (merged.size() < max) {
        std::optional<size_t> best;
        for (size_t i = 0; i < perSegment.size(); ++i) {
            if (at[i] >= perSegment[i].size()) continue;
            if (!best || perSegment[i][at[i]].record.receivedAtMs <
                             perSegment[*best][at[*best]].record.receivedAtMs)
                best = i;
        }
        if (!best) break;
        merged.push_back(std::move(perSegment[*best][at[*best]++]));
    }
    return merged;
}

void IntakeSpool::consume(const std::vector<Pending>& applied) {
    std::lock_guard lock(mutex_);
    for (auto it = segments_.begin(); it != segments_.end();) {
        Segment& s = **it;
        uint64_t upTo = s.appliedTo;
        for (const auto& p : applied)
            if (p.segment == s.id) upTo = std::max(upTo, p.end);
        s.appliedTo = upTo;
        while (!s.pending.empty() && s.pending.front().first <= upTo) {
            s.pending.pop_front();
            ++stats_.consumed;
        }
        if (!s.pending.empty()) {
            ++it;
            continue;
        }
        if (s.active) {
            // Drained: start the file over (a crash before this leaves
            // records the ledger skips).
            if (s.size > 0 && ::ftruncate(s.fd, 0) == 0) s.size = s.appliedTo = 0;
            ++it;
            continue;
        }
        release(s, true);
        it = segments_.erase(it);
    }
}

int IntakeSpool::scan() {
    DIR* dir = ::opendir(options_.directory.c_str());
    if (!dir) return 0;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
    ::closedir(dir);

    std::vector<std::string> ownPaths;
    {
        std::lock_guard lock(mutex_);
        for (const auto& s : segments_) ownPaths.push_back(s->path);
    }
    uint64_t others = 0;
    int adopted = 0;
    uint64_t torn = 0, corrupt = 0;
    for (const auto& name : names) {
        const bool temp = name.rfind(kTempPrefix, 0) == 0;
        if (!endsWith(name, kSuffix)) continue;
        const std::string path = options_.directory + "/" + name;
        if (std::find(ownPaths.begin(), ownPaths.end(), path) != ownPaths.end()) continue;
        const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (::fstat(fd, &st) == 0) others += static_cast<uint64_t>(st.st_size);
            ::close(fd);
            continue;
        }
        struct stat byPath {};
        if (::fstat(fd, &st) != 0 || ::stat(path.c_str(), &byPath) != 0 ||
            st.st_ino != byPath.st_ino || st.st_dev != byPath.st_dev) {
            ::close(fd);  // removed or replaced since we listed it
            continue;
        }
        if (temp || st.st_size == 0) {
            // A creator that died before its first record (or before naming
            // its segment): nothing to replay.
            ::unlink(path.c_str());
            ::close(fd);
            continue;
        }
        auto s = std::make_unique<Segment>();
        s->path = path;
        s->fd = fd;
        s->size = static_cast<uint64_t>(st.st_size);
        // Index it: where each record ends and when it came.
        uint64_t at = 0;
        while (at < s->size) {
            std::string bytes;
            const uint64_t to = std::min(s->size, at + kReadChunk + SpoolFile::kMaxPayload);
            if (!readRange(fd, at, to, bytes) || bytes.empty()) break;
            const auto scan = SpoolFile::scan(bytes, at, at + bytes.size() == s->size, SIZE_MAX);
            corrupt += static_cast<uint64_t>(scan.corruptRegions);
            torn += scan.tornTailBytes > 0;
            for (const auto& f : scan.frames) {
                // Unreadable: as if it came now (it must not look old
                // enough to close the spool by age); skipped by replay.
                int64_t receivedAt = clock_.nowMs();
                try {
                    receivedAt = SpoolRecord::decode(f.payload).receivedAtMs;
                } catch (const EngineError&) {
                    ++corrupt;
                }
                s->pending.emplace_back(f.end, receivedAt);
            }
            if (scan.end <= at) break;
            at = scan.end;
        }
        std::lock_guard lock(mutex_);
        s->id = nextSegmentId_++;
        if (s->pending.empty()) {
            release(*s, true);
            continue;
        }
        segments_.push_back(std::move(s));
        ++adopted;
    }
    std::lock_guard lock(mutex_);
    stats_.otherProcessBytes = others;
    stats_.segmentsAdopted += static_cast<uint64_t>(adopted);
    stats_.tornTails += torn;
    stats_.corruptRegions += corrupt;
    return adopted;
}

std::vector<IntakeSpool::SegmentView> IntakeSpool::inspect(const std::string& directory) {
    std::vector<SegmentView> out;
    DIR* dir = ::opendir(directory.c_str());
    if (!dir) {
        if (errno == ENOENT) return out;
        throw EngineError(ErrorCode::storage_unavailable,
                          errnoText(("cannot read the spool directory " + directory).c_str()));
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        if (!endsWith(name, kSuffix) || name.rfind(kTempPrefix, 0) == 0) continue;
        const std::string path = directory + "/" + name;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        SegmentView v;
        v.file = name;
        // A shared lock is refused while a process holds it exclusively;
        // taken, it is dropped at once (a scanning serve retries next tick).
        v.heldByLiveProcess = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
        if (!v.heldByLiveProcess) ::flock(fd, LOCK_UN);
        struct stat st {};
        if (::fstat(fd, &st) == 0) v.bytes = static_cast<uint64_t>(st.st_size);
        std::string bytes;
        if (readRange(fd, 0, v.bytes, bytes)) {
            const auto scan = SpoolFile::scan(bytes, 0, true, SIZE_MAX);
            v.corruptRegions = static_cast<uint64_t>(scan.corruptRegions);
            v.tornTailBytes = scan.tornTailBytes;
            for (const auto& f : scan.frames) {
                try {
                    v.records.push_back(SpoolRecord::decode(f.payload));
                } catch (const EngineError&) {
                    ++v.corruptRegions;
                }
            }
        }
        ::close(fd);
        out.push_back(std::move(v));
    }
    return out;
}

bool IntakeSpool::pendingOnHost() const {
    std::lock_guard lock(mutex_);
    if (stats_.otherProcessBytes > 0) return true;
    return std::any_of(segments_.begin(), segments_.end(),
                       [](const auto& s) { return !s->pending.empty(); });
}

SpoolStats IntakeSpool::stats() const {
    std::lock_guard lock(mutex_);
    SpoolStats out = stats_;
    out.hostBytes = stats_.otherProcessBytes;
    for (const auto& s : segments_) {
        out.hostBytes += s->size;
        out.pendingRecords += s->pending.size();
        out.pendingBytes += s->size - s->appliedTo;
        if (!s->pending.empty()) {
            out.oldestPendingAtMs =
                std::min(out.oldestPendingAtMs.value_or(INT64_MAX), s->pending.front().second);
        }
    }
    return out;
}

}  // namespace calltrack::db
