#include "db/integrity/InvariantChecker.h"

namespace calltrack::db {

namespace {

// Each check is a query returning one row per problem, as text.
struct Check {
    const char* what;
    const char* sql;
    bool violation;  // false: report as warning
};

const Check kChecks[] = {
    {"client counters match their live slot-holding calls",
     "SELECT 'client ' || k.id || ': counter says ' || k.active || ' live calls, calls table has ' "
     "|| "
     "  (SELECT count(*) FROM calls c WHERE c.client_id = k.id AND c.ended_at IS NULL AND "
     "c.client_slot IS NOT NULL) "
     "FROM clients k WHERE k.active <> "
     "  (SELECT count(*) FROM calls c WHERE c.client_id = k.id AND c.ended_at IS NULL AND "
     "c.client_slot IS NOT NULL)",
     true},
    {"global counter matches the live slot-holding calls",
     "SELECT 'global counter says ' || s.global_active || ', calls table has ' || "
     "  (SELECT count(*) FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL) "
     "FROM settings s WHERE s.global_active <> "
     "  (SELECT count(*) FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL)",
     true},
    {"every client is within its limit (slot numbers within the limit are unique)",
     "SELECT 'client ' || k.id || ': ' || count(*) || ' live calls hold slots within its limit of "
     "' || k.max_concurrent "
     "FROM calls c JOIN clients k ON k.id = c.client_id "
     "WHERE c.ended_at IS NULL AND c.client_slot <= k.max_concurrent GROUP BY k.id HAVING count(*) "
     "> k.max_concurrent",
     true},
    {"the system is within the global limit",
     "SELECT count(*) || ' live calls hold global slots within the global limit of ' || "
     "s.global_limit "
     "FROM calls c, settings s WHERE c.ended_at IS NULL AND c.global_slot <= s.global_limit "
     "GROUP BY s.global_limit HAVING count(*) > s.global_limit",
     true},
    {"no live call holds a slot number twice",
     "SELECT 'client ' || client_id || ' slot ' || client_slot || ' held by ' || count(*) || ' "
     "live calls' "
     "FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL GROUP BY client_id, "
     "client_slot HAVING count(*) > 1 "
     "UNION ALL SELECT 'global slot ' || global_slot || ' held by ' || count(*) || ' live calls' "
     "FROM calls WHERE ended_at IS NULL AND global_slot IS NOT NULL GROUP BY global_slot HAVING "
     "count(*) > 1",
     true},
    {"every live call has an expiry and every ended call has none",
     "SELECT 'call ' || id || ' (' || state || ') ' || "
     "  CASE WHEN ended_at IS NULL THEN 'is live without an expiry' ELSE 'ended but still has an "
     "expiry' END "
     "FROM calls WHERE (ended_at IS NULL AND expires_at IS NULL) OR (ended_at IS NOT NULL AND "
     "expires_at IS NOT NULL)",
     true},
    {"states agree with ended_at",
     "SELECT 'call ' || id || ': state ' || state || ' but ended_at is ' || coalesce(ended_at, "
     "'NULL') FROM calls "
     "WHERE (ended_at IS NULL) <> (state IN ('reserved', 'initiated', 'ringing', 'in_progress'))",
     true},
    {"every ended call released its slot exactly once (one admission, at most one end per call)",
     "SELECT 'call ' || c.id || ': ' || count(e.id) || ' ending events' FROM calls c JOIN "
     "call_events e ON e.call_id = c.id "
     "WHERE e.outcome = 'applied' AND e.to_state IN ('completed', 'busy', 'failed', 'no_answer', "
     "'canceled', 'timed_out') "
     "GROUP BY c.id HAVING count(e.id) > 1",
     true},
    {"free-slot hints name no slot a live call holds",
     "SELECT 'free hint client ' || f.client_id || ' slot ' || f.slot || ' is held by call ' || "
     "c.id "
     "FROM free_client_slots f JOIN calls c ON c.client_id = f.client_id AND c.client_slot = "
     "f.slot AND c.ended_at IS NULL",
     false},
    {"every bot's call count matches its live calls and is within its capacity",
     "SELECT 'bot ' || b.id || ': counter says ' || b.active_calls || ' calls (capacity ' || "
     "b.capacity || '), calls table has ' || "
     "(SELECT count(*) FROM calls c WHERE c.bot_id = b.id AND c.ended_at IS NULL) "
     "FROM bots b WHERE b.active_calls <> "
     "(SELECT count(*) FROM calls c WHERE c.bot_id = b.id AND c.ended_at IS NULL) "
     "OR b.active_calls > b.capacity",
     true},
    {"every live call's bot exists and may serve its client",
     "SELECT 'call ' || c.id || ': bot ' || c.bot_id || "
     "CASE WHEN b.id IS NULL THEN ' does not exist' ELSE ' belongs to client ' || b.client_id END "
     "FROM calls c LEFT JOIN bots b ON b.id = c.bot_id WHERE c.ended_at IS NULL AND c.bot_id IS "
     "NOT NULL AND (b.id IS NULL OR (b.client_id IS NOT NULL AND b.client_id <> c.client_id))",
     true},
    // v4: calls admitted by a v3 binary on the file have no bot slot; the
    // guarantee then rests on the counter alone until they end.
    {"every live call on a bot holds one of its capacity slots",
     "SELECT 'call ' || c.id || ': on bot ' || c.bot_id || CASE WHEN c.bot_slot IS NULL THEN "
     "' without a capacity slot' ELSE ' in slot ' || c.bot_slot || ', above its capacity of ' || "
     "b.capacity END FROM calls c JOIN bots b ON b.id = c.bot_id WHERE c.ended_at IS NULL AND "
     "(c.bot_slot IS NULL OR c.bot_slot > b.capacity)",
     false},
};

void runCheck(Connection& c, const Check& check, CheckReport& report) {
    SQLite::Statement s(c.handle(), check.sql);
    bool any = false;
    while (s.executeStep()) {
        any = true;
        (check.violation ? report.violations : report.warnings)
            .push_back(s.getColumn(0).getString());
    }
    if (!any) report.passed.push_back(check.what);
}

}  // namespace

CheckReport InvariantChecker::run(Connection& c, int64_t nowMs, int64_t graceMs) {
    CheckReport report;
    {
        SQLite::Statement s(c.handle(), "PRAGMA integrity_check");
        std::vector<std::string> problems;
        while (s.executeStep()) {
            std::string line = s.getColumn(0).getString();
            if (line != "ok") problems.push_back("integrity_check: " + line);
        }
        if (problems.empty()) report.passed.push_back("SQLite integrity_check");
        for (auto& p : problems) report.violations.push_back(p);
    }
    {
        SQLite::Statement s(c.handle(), "PRAGMA foreign_key_check");
        bool any = false;
        while (s.executeStep()) {
            any = true;
            report.violations.push_back("foreign key: row " + s.getColumn(1).getString() + " of " +
                                        s.getColumn(0).getString() + " points at a missing " +
                                        s.getColumn(2).getString());
        }
        if (!any) report.passed.push_back("foreign keys");
    }
    for (const auto& check : kChecks) runCheck(c, check, report);

    SQLite::Statement expired(
        c.handle(),
        "SELECT count(*), min(expires_at) FROM calls WHERE ended_at IS NULL AND expires_at <= ?1");
    expired.bind(1, nowMs - graceMs);
    expired.executeStep();
    if (const int64_t n = expired.getColumn(0).getInt64(); n > 0) {
        report.warnings.push_back(
            std::to_string(n) +
            " live calls are past their expiry: no reaper is running (is `calltrack serve` up?)");
    } else {
        report.passed.push_back("no live call is past its expiry");
    }
    return report;
}

}  // namespace calltrack::db
