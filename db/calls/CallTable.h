#pragma once
// Row access to the calls table shared by the engine (inside the writer's
// transaction) and the read side (on a ReadPool connection).

#include "db/IsoTime.h"
#include "db/calls/Call.h"
#include "db/storage/Connection.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

// A live call together with what its timeouts are computed from.
struct CallWithTimeouts {
    Call call;
    int64_t ringTimeoutS = 60;
    int64_t maxCallS = 4 * 3600;
};

class CallTable {
  public:
    static std::optional<CallWithTimeouts> find(Connection& c, const CallRef& ref);
    static std::optional<Call> findById(Connection& c, int64_t id);
    static std::optional<CallWithTimeouts> findByProviderCallId(Connection& c,
                                                                const std::string& providerCallId);
    // The id of a call with this external id among the clients registered
    // for this Twilio account (live calls first).
    static std::optional<int64_t> findExternalInAccount(Connection& c,
                                                        const std::string& accountSid,
                                                        const std::string& externalId);

    struct ListFilter {
        std::optional<std::string> clientId{};
        enum class Which { active, ended, all } which = Which::active;
        int64_t limit = 100;
        std::optional<int64_t> beforeId{};  // cursor: calls with a smaller id (newest first)
    };
    static std::vector<Call> list(Connection& c, const ListFilter& filter);
    // The statement list() runs (tests read its query plan).
    static const char* listSql(const ListFilter& filter);
};

}  // namespace calltrack::db
