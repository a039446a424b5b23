#pragma once
// Scheduled demand per client: "expect N concurrent calls from starts_at to
// ends_at". The bot scheduler has bots ready lead_time_s before starts_at.

#include "db/Clock.h"
#include "db/bots/Bot.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <vector>

namespace calltrack::db {

class DemandSchedules {
  public:
    DemandSchedules(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock)
        : writer_(writer), readers_(readers), clock_(clock) {}

    // Throws invalid_argument (ends before it starts, ends in the past,
    // concurrency out of range) or not_found (unknown client).
    DemandSchedule add(const std::string& clientId, int64_t startsAt, int64_t endsAt,
                       int64_t expectedConcurrency, Deadline deadline = noDeadline());
    // Schedules not yet over, soonest first.
    std::vector<DemandSchedule> upcoming(const std::string& clientId);
    // Throws not_found.
    void remove(const std::string& clientId, int64_t scheduleId, Deadline deadline = noDeadline());

    static std::vector<DemandSchedule> upcomingIn(Connection& c, int64_t nowMs,
                                                  const std::string& clientId);
    // Sum of the expected concurrency of the schedules whose warm window
    // [starts_at - lead, ends_at) contains now.
    static int64_t expectedNowIn(Connection& c, int64_t nowMs, const std::string& clientId,
                                 int64_t leadTimeMs);

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
};

}  // namespace calltrack::db
