#pragma once
// A fresh calltrack database in a private temporary directory, removed with
// the object; plus the engine pieces wired to a ManualClock.

#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/spool/EventIntake.h"
#include "db/spool/IntakeSpool.h"
#include "db/storage/Database.h"
#include "db/tenants/ClientRegistry.h"

#include <filesystem>
#include <memory>
#include <string>

namespace calltrack::test {

class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

struct TestDatabase {
    // synchronous=NORMAL unless `fullDurability` (tests of fsync failures).
    explicit TestDatabase(db::DatabaseOptions options = {}, bool fullDurability = false);
    // Closes everything and opens the same file again (a process restart).
    void reopen();

    TempDir dir;
    db::DatabaseOptions options;
    db::ManualClock clock;
    std::unique_ptr<db::Database> database;
    std::unique_ptr<db::ClientRegistry> clients;
    std::unique_ptr<db::AdmissionEngine> admission;
    std::unique_ptr<db::CallLifecycle> lifecycle;
    // The intake spool beside the database ("<db>-spool") and its intake.
    std::unique_ptr<db::IntakeSpool> spool;
    std::unique_ptr<db::EventIntake> intake;
};

}  // namespace calltrack::test
