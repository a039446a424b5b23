#pragma once
// How calls, clients and usage look in API responses. Times are ISO-8601
// UTC text; absent values are null.

#include "db/Call.h"
#include "db/Client.h"
#include "db/UsageQueries.h"

#include <nlohmann/json.hpp>

namespace calltrack::api {

class ResourceJson {
  public:
    static nlohmann::json call(const db::Call& call);
    static nlohmann::json client(const db::Client& client);
    static nlohmann::json usage(const db::Usage& usage);
    static nlohmann::json usageReport(const db::UsageReport& report);
};

}  // namespace calltrack::api
