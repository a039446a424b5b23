#pragma once
// A JsonLog whose lines go nowhere, for tests that look at the database and
// not at the log.

#include "api/logging/JsonLog.h"

#include <cstdio>

namespace calltrack::test {

struct QuietLog {
    QuietLog() : sink(std::fopen("/dev/null", "w")), log(api::LogLevel::debug, sink) {}
    ~QuietLog() { std::fclose(sink); }
    QuietLog(const QuietLog&) = delete;
    QuietLog& operator=(const QuietLog&) = delete;
    std::FILE* sink;
    api::JsonLog log;
};

}  // namespace calltrack::test
