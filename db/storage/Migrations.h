#pragma once
// Upgrade steps between schema versions: steps[i] takes a database from
// version i+1 to i+2. schema.sql is always the complete current schema for
// fresh databases; every change to it comes with a step here that brings
// older databases to the same shape. Steps must be additive so that processes
// still running the previous binary keep working until they are restarted.

#include <vector>

namespace calltrack::db {

const std::vector<const char*>& upgradeSteps();

}  // namespace calltrack::db
