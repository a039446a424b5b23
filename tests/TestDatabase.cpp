#include "tests/TestDatabase.h"

#include <random>
#include <stdexcept>

namespace calltrack::test {

TempDir::TempDir() {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto candidate =
            std::filesystem::temp_directory_path() / ("calltrack-test-" + std::to_string(rd()));
        if (std::filesystem::create_directory(candidate)) {
            path_ = candidate;
            return;
        }
    }
    throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

TestDatabase::TestDatabase(db::DatabaseOptions o, bool fullDurability) : options(std::move(o)) {
    options.path = dir.file("calltrack.db");
    options.createIfMissing = true;
    // Tests need no power-loss durability; NORMAL keeps them fast.
    options.durability = fullDurability ? db::Durability::full : db::Durability::normal;
    reopen();
}

void TestDatabase::reopen() {
    intake.reset();
    spool.reset();
    lifecycle.reset();
    admission.reset();
    clients.reset();
    database.reset();
    database = std::make_unique<db::Database>(options);
    clients = std::make_unique<db::ClientRegistry>(database->writer(), database->readers(), clock);
    admission = std::make_unique<db::AdmissionEngine>(database->writer(), clock);
    lifecycle = std::make_unique<db::CallLifecycle>(database->writer(), clock);
    spool = std::make_unique<db::IntakeSpool>(
        db::SpoolOptions{db::SpoolOptions::directoryFor(options.path)}, clock);
    intake = std::make_unique<db::EventIntake>(database->writer(), clock, *spool);
}

}  // namespace calltrack::test
