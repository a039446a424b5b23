#pragma once
// `calltrack check --repair`: recomputes every counter (clients.active,
// settings.global_active, bots.active_calls with the state that goes with
// it) from the live calls, in one writer operation, and says what it
// changed. The counter guards of schema v4 let counters jump only while the
// counter_repairs row this operation inserts (and deletes again) exists.

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"

#include <string>
#include <vector>

namespace calltrack::db {

class CounterRepair {
  public:
    // One line per counter changed ("client acme: active 7 -> 2"); empty
    // when every counter was right.
    static std::vector<std::string> run(GroupCommitWriter& writer, const Clock& clock,
                                        Deadline deadline = noDeadline());
};

}  // namespace calltrack::db
