#pragma once
// A VFS shim over SQLite's "unix" VFS that makes writes and fsyncs of the
// database and its WAL fail on command (STACK.md: the way to inject I/O
// faults into the stock library). Registered as the default VFS, so every
// connection the engine opens in this process goes through it. Everything
// else is forwarded unchanged.

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace calltrack::test {

class FaultyVfs {
  public:
    enum class Fault { none, io_error, disk_full };

    // Registers the shim as the default VFS (once per process).
    static FaultyVfs& install() {
        static FaultyVfs vfs;
        return vfs;
    }

    // What a write (xWrite, xTruncate) or an fsync (xSync) of the database
    // or its WAL returns from now on.
    void failWrites(Fault f) { writes_.store(f); }
    void failSyncs(bool fail) { syncs_.store(fail); }
    void heal() {
        writes_.store(Fault::none);
        syncs_.store(false);
    }
    int injected() const { return injected_.load(); }

  private:
    struct File {
        sqlite3_file base;
        bool faulty;  // the main database or its WAL
        sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
    };

    FaultyVfs() {
        real_ = sqlite3_vfs_find("unix");
        if (!real_) throw std::runtime_error("no unix VFS");
        vfs_ = *real_;
        vfs_.zName = "calltrack-faulty";
        vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
        vfs_.pAppData = this;
        vfs_.xOpen = &FaultyVfs::open;
        if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK)
            throw std::runtime_error("cannot register the faulty VFS");
    }

    static FaultyVfs& self(sqlite3_vfs* v) { return *static_cast<FaultyVfs*>(v->pAppData); }
    static FaultyVfs& self() { return install(); }
    static File* file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

    int writeFault() {
        switch (writes_.load()) {
            case Fault::none:
                return SQLITE_OK;
            case Fault::io_error:
                ++injected_;
                return SQLITE_IOERR_WRITE;
            case Fault::disk_full:
                ++injected_;
                return SQLITE_FULL;
        }
        return SQLITE_OK;
    }

    static int open(sqlite3_vfs* v, const char* name, sqlite3_file* f, int flags, int* outFlags) {
        FaultyVfs& me = self(v);
        File* ff = file(f);
        ff->faulty = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
        const int rc = me.real_->xOpen(me.real_, name, ff->real(), flags, outFlags);
        // SQLite calls xClose only if pMethods is set: set it only when the
        // real file opened (and then always, so that it is closed).
        ff->base.pMethods = ff->real()->pMethods ? &methods() : nullptr;
        return rc;
    }

    static const sqlite3_io_methods& methods() {
        static const sqlite3_io_methods m = [] {
            sqlite3_io_methods x{};
            x.iVersion = 3;
            x.xClose = [](sqlite3_file* f) {
                return file(f)->real()->pMethods->xClose(file(f)->real());
            };
            x.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
                return file(f)->real()->pMethods->xRead(file(f)->real(), p, n, o);
            };
            x.xWrite = [](sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
                if (file(f)->faulty)
                    if (const int rc = self().writeFault()) return rc;
                return file(f)->real()->pMethods->xWrite(file(f)->real(), p, n, o);
            };
            x.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
                if (file(f)->faulty)
                    if (const int rc = self().writeFault()) return rc;
                return file(f)->real()->pMethods->xTruncate(file(f)->real(), size);
            };
            x.xSync = [](sqlite3_file* f, int flags) {
                if (file(f)->faulty && self().syncs_.load()) {
                    ++self().injected_;
                    return SQLITE_IOERR_FSYNC;
                }
                return file(f)->real()->pMethods->xSync(file(f)->real(), flags);
            };
            x.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
                return file(f)->real()->pMethods->xFileSize(file(f)->real(), size);
            };
            x.xLock = [](sqlite3_file* f, int l) {
                return file(f)->real()->pMethods->xLock(file(f)->real(), l);
            };
            x.xUnlock = [](sqlite3_file* f, int l) {
                return file(f)->real()->pMethods->xUnlock(file(f)->real(), l);
            };
            x.xCheckReservedLock = [](sqlite3_file* f, int* out) {
                return file(f)->real()->pMethods->xCheckReservedLock(file(f)->real(), out);
            };
            x.xFileControl = [](sqlite3_file* f, int op, void* arg) {
                return file(f)->real()->pMethods->xFileControl(file(f)->real(), op, arg);
            };
            x.xSectorSize = [](sqlite3_file* f) {
                return file(f)->real()->pMethods->xSectorSize(file(f)->real());
            };
            x.xDeviceCharacteristics = [](sqlite3_file* f) {
                return file(f)->real()->pMethods->xDeviceCharacteristics(file(f)->real());
            };
            x.xShmMap = [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
                return file(f)->real()->pMethods->xShmMap(file(f)->real(), page, size, extend, out);
            };
            x.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
                return file(f)->real()->pMethods->xShmLock(file(f)->real(), offset, n, flags);
            };
            x.xShmBarrier = [](sqlite3_file* f) {
                file(f)->real()->pMethods->xShmBarrier(file(f)->real());
            };
            x.xShmUnmap = [](sqlite3_file* f, int del) {
                return file(f)->real()->pMethods->xShmUnmap(file(f)->real(), del);
            };
            x.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
                return file(f)->real()->pMethods->xFetch(file(f)->real(), o, n, p);
            };
            x.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
                return file(f)->real()->pMethods->xUnfetch(file(f)->real(), o, p);
            };
            return x;
        }();
        return m;
    }

    sqlite3_vfs* real_ = nullptr;
    sqlite3_vfs vfs_{};
    std::atomic<Fault> writes_{Fault::none};
    std::atomic<bool> syncs_{false};
    std::atomic<int> injected_{0};
};

}  // namespace calltrack::test
