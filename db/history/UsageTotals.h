#pragma once
// The counters since the database was created (usage_totals) brought up to
// the moment: the table plus the events past usage_cursor, folded the same
// way (EventTally), in one snapshot. Read by GET /metrics in every process,
// so each reports the same values. At most `tailLimit` events past the
// cursor are folded (the history job folds the rest within an interval);
// the values can lag then but never go down: the cursor only moves forward
// and each event below it is already in the table.

#include "db/storage/Connection.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace calltrack::db {

class UsageTotals {
  public:
    using Values = std::map<std::pair<std::string, std::string>, int64_t>;  // (client, counter)
    static Values current(Connection& c, int64_t tailLimit = 200000);
};

}  // namespace calltrack::db
