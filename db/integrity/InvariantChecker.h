#pragma once
// `calltrack check`: SQLite's own integrity checks plus calltrack's
// invariants (LIFECYCLE.md), read from one consistent snapshot.

#include "db/storage/Connection.h"

#include <string>
#include <vector>

namespace calltrack::db {

struct CheckReport {
    std::vector<std::string> violations;  // broken invariants: exit non-zero
    std::vector<std::string> warnings;    // worth a look, not a broken invariant
    std::vector<std::string> passed;      // what was checked and held
    bool ok() const { return violations.empty(); }
};

class InvariantChecker {
  public:
    // `nowMs` and `graceMs` decide which expired-but-live calls are reported.
    static CheckReport run(Connection& c, int64_t nowMs, int64_t graceMs);
};

}  // namespace calltrack::db
