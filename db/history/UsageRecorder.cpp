#include "db/history/UsageRecorder.h"

#include "db/history/EventTally.h"

#include <algorithm>
#include <vector>

namespace calltrack::db {

namespace {
constexpr int64_t kMinuteMs = 60000;
constexpr int64_t kHourMs = 3600000;

const char* const kCursor = "SELECT last_event_id, sampled_at FROM usage_cursor WHERE id = 1";
const char* const kMoveCursor =
    "UPDATE usage_cursor SET last_event_id = ?2 WHERE id = 1 AND last_event_id = ?1";
const char* const kAddBucket =
    "INSERT INTO usage_history (step_s, bucket_at, client_id, admissions, refused_client_limit, "
    "refused_global_limit, refused_disabled, refused_bot, refused_other, ended_completed, "
    "ended_busy, ended_failed, ended_no_answer, ended_canceled, timeouts, holding_ms_sum) "
    "VALUES (60, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (step_s, bucket_at, client_id) DO UPDATE SET "
    "admissions = admissions + excluded.admissions, "
    "refused_client_limit = refused_client_limit + excluded.refused_client_limit, "
    "refused_global_limit = refused_global_limit + excluded.refused_global_limit, "
    "refused_disabled = refused_disabled + excluded.refused_disabled, "
    "refused_bot = refused_bot + excluded.refused_bot, "
    "refused_other = refused_other + excluded.refused_other, "
    "ended_completed = ended_completed + excluded.ended_completed, "
    "ended_busy = ended_busy + excluded.ended_busy, "
    "ended_failed = ended_failed + excluded.ended_failed, "
    "ended_no_answer = ended_no_answer + excluded.ended_no_answer, "
    "ended_canceled = ended_canceled + excluded.ended_canceled, "
    "timeouts = timeouts + excluded.timeouts, "
    "holding_ms_sum = holding_ms_sum + excluded.holding_ms_sum";
const char* const kAddTotal =
    "INSERT INTO usage_totals (client_id, counter, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (client_id, counter) DO UPDATE SET value = value + excluded.value";

// Live calls: slot holders plus observe-mode calls holding none (what the
// limit would have to carry).
const char* const kLivePerClient =
    "SELECT k.id, k.active + (SELECT count(*) FROM calls c INDEXED BY calls_live_client_slot "
    "WHERE c.client_id = k.id AND c.ended_at IS NULL AND c.client_slot IS NULL), "
    "k.max_concurrent FROM clients k";
const char* const kLiveSystem =
    "SELECT s.global_active + (SELECT count(*) FROM calls c INDEXED BY calls_live_client_slot "
    "WHERE c.ended_at IS NULL AND c.client_slot IS NULL), s.global_limit FROM settings s "
    "WHERE s.id = 1";
// Due, or from the future (the clock stepped back, or a skewed process):
// either way this sample is taken.
const char* const kClaimSample =
    "UPDATE usage_cursor SET sampled_at = ?1 WHERE id = 1 AND (sampled_at <= ?2 OR sampled_at > "
    "?3)";
const char* const kAddSample =
    "INSERT INTO usage_history (step_s, bucket_at, client_id, samples, active_max, active_sum, "
    "limit_seen) VALUES (60, ?1, ?2, 1, ?3, ?3, ?4) "
    "ON CONFLICT (step_s, bucket_at, client_id) DO UPDATE SET samples = samples + 1, "
    "active_max = max(active_max, excluded.active_max), "
    "active_sum = active_sum + excluded.active_sum, "
    "limit_seen = max(coalesce(limit_seen, 0), excluded.limit_seen)";

const char* const kOldestRow =
    "SELECT min(bucket_at) FROM usage_history WHERE step_s = ?1 AND bucket_at < ?2";
const char* const kRollUpHour =
    "INSERT INTO usage_history (step_s, bucket_at, client_id, samples, active_max, active_sum, "
    "limit_seen, admissions, refused_client_limit, refused_global_limit, refused_disabled, "
    "refused_bot, refused_other, ended_completed, ended_busy, ended_failed, ended_no_answer, "
    "ended_canceled, timeouts, holding_ms_sum) "
    "SELECT 3600, ?1, client_id, sum(samples), max(active_max), sum(active_sum), "
    "max(limit_seen), sum(admissions), sum(refused_client_limit), sum(refused_global_limit), "
    "sum(refused_disabled), sum(refused_bot), sum(refused_other), sum(ended_completed), "
    "sum(ended_busy), sum(ended_failed), sum(ended_no_answer), sum(ended_canceled), "
    "sum(timeouts), sum(holding_ms_sum) FROM usage_history "
    "WHERE step_s = 60 AND bucket_at >= ?1 AND bucket_at < ?2 GROUP BY client_id "
    "ON CONFLICT (step_s, bucket_at, client_id) DO UPDATE SET "
    "samples = samples + excluded.samples, "
    "active_max = max(active_max, excluded.active_max), "
    "active_sum = active_sum + excluded.active_sum, "
    "limit_seen = max(coalesce(limit_seen, 0), coalesce(excluded.limit_seen, 0)), "
    "admissions = admissions + excluded.admissions, "
    "refused_client_limit = refused_client_limit + excluded.refused_client_limit, "
    "refused_global_limit = refused_global_limit + excluded.refused_global_limit, "
    "refused_disabled = refused_disabled + excluded.refused_disabled, "
    "refused_bot = refused_bot + excluded.refused_bot, "
    "refused_other = refused_other + excluded.refused_other, "
    "ended_completed = ended_completed + excluded.ended_completed, "
    "ended_busy = ended_busy + excluded.ended_busy, "
    "ended_failed = ended_failed + excluded.ended_failed, "
    "ended_no_answer = ended_no_answer + excluded.ended_no_answer, "
    "ended_canceled = ended_canceled + excluded.ended_canceled, "
    "timeouts = timeouts + excluded.timeouts, "
    "holding_ms_sum = holding_ms_sum + excluded.holding_ms_sum";
const char* const kDeleteHour =
    "DELETE FROM usage_history WHERE step_s = ?1 AND bucket_at >= ?2 AND bucket_at < ?3";

int64_t floorTo(int64_t t, int64_t step) {
    return t - ((t % step) + step) % step;
}
}  // namespace

int64_t UsageRecorder::foldOnce(Deadline deadline) {
    struct Snapshot {
        int64_t cursor = 0;
        int64_t from = 0;
        EventTally tally;
        int64_t read = 0;
    };
    Snapshot s = readers_.read(deadline, [&](Connection& c) {
        Snapshot out;
        {
            Query q(c, kCursor);
            q.step();
            out.cursor = q->getColumn(0).getInt64();
        }
        // Ids never restart: retention keeps the newest event (RetentionPurge).
        out.from = out.cursor;
        out.read = out.tally.foldFrom(c, out.from, options_.foldBatch);
        return out;
    });
    if (s.read == 0 && s.from == s.cursor) return 0;
    const bool moved = writer_.run(
        [&](Connection& c) {
            Query move(c, kMoveCursor);
            move->bind(1, s.cursor);
            move->bind(2, s.tally.lastId());
            if (move.run() != 1) return false;  // another process folded these
            for (const auto& [key, d] : s.tally.buckets()) {
                Query q(c, kAddBucket);
                q->bind(1, key.second);
                q->bind(2, key.first);
                const int64_t values[] = {
                    d.admissions,  d.refusedClientLimit, d.refusedGlobalLimit, d.refusedDisabled,
                    d.refusedBot,  d.refusedOther,       d.endedCompleted,     d.endedBusy,
                    d.endedFailed, d.endedNoAnswer,      d.endedCanceled,      d.timeouts,
                    d.holdingMsSum};
                for (int i = 0; i < 13; ++i) q->bind(3 + i, values[i]);
                q.run();
            }
            for (const auto& [key, value] : s.tally.totals()) {
                Query q(c, kAddTotal);
                q->bind(1, key.first);
                q->bind(2, key.second);
                q->bind(3, value);
                q.run();
            }
            return true;
        },
        deadline);
    return moved ? s.read : 0;
}

int64_t UsageRecorder::fold(int maxBatches, Deadline deadline) {
    int64_t total = 0;
    for (int i = 0; i < maxBatches; ++i) {
        const int64_t n = foldOnce(deadline);
        total += n;
        if (n < options_.foldBatch) break;
    }
    return total;
}

bool UsageRecorder::sample(Deadline deadline) {
    struct Live {
        std::string client;
        int64_t live;
        int64_t limit;
    };
    const int64_t now = clock_.nowMs();
    // Due once an interval has passed since the last sample, whoever took
    // it (250 ms early is fine: ticks jitter).
    const int64_t dueBefore = now - options_.sampleIntervalMs + 250;
    std::optional<std::vector<Live>> live = readers_.read(deadline, [&](Connection& c) {
        std::optional<std::vector<Live>> none;
        {
            Query q(c, kCursor);
            if (q.step()) {
                const int64_t last = q->getColumn(1).getInt64();
                if (last > dueBefore && last <= now + options_.sampleIntervalMs) return none;
            }
        }
        std::vector<Live> out;
        {
            Query q(c, kLiveSystem);
            if (q.step())
                out.push_back({kSystemRow, q->getColumn(0).getInt64(), q->getColumn(1).getInt64()});
        }
        Query q(c, kLivePerClient);
        while (q.step()) {
            const int64_t n = q->getColumn(1).getInt64();
            if (n > 0) out.push_back({q->getColumn(0).getString(), n, q->getColumn(2).getInt64()});
        }
        return std::optional(std::move(out));
    });
    if (!live) return false;
    const int64_t minute = floorTo(now, kMinuteMs);
    return writer_.run(
        [&](Connection& c) {
            Query claim(c, kClaimSample);
            claim->bind(1, now);
            claim->bind(2, dueBefore);
            claim->bind(3, now + options_.sampleIntervalMs);
            if (claim.run() != 1) return false;  // another process sampled first
            for (const auto& l : *live) {
                Query q(c, kAddSample);
                q->bind(1, minute);
                q->bind(2, l.client);
                q->bind(3, l.live);
                q->bind(4, l.limit);
                q.run();
            }
            return true;
        },
        deadline);
}

namespace {
// The oldest hour that has rows of `step` older than `cutoff` (whole hours only).
std::optional<int64_t> oldestHour(ReadPool& readers, Deadline deadline, int64_t step,
                                  int64_t cutoff) {
    return readers.read(deadline, [&](Connection& c) -> std::optional<int64_t> {
        Query q(c, kOldestRow);
        q->bind(1, step);
        q->bind(2, floorTo(cutoff, kHourMs));
        if (!q.step() || q->getColumn(0).isNull()) return std::nullopt;
        return floorTo(q->getColumn(0).getInt64(), kHourMs);
    });
}
}  // namespace

bool UsageRecorder::rollUpOldestHour(Deadline deadline) {
    const auto hour =
        oldestHour(readers_, deadline, 60, clock_.nowMs() - options_.minuteRowsKeptMs);
    if (!hour) return false;
    writer_.run(
        [&](Connection& c) {
            Query up(c, kRollUpHour);
            up->bind(1, *hour);
            up->bind(2, *hour + kHourMs);
            up.run();
            Query del(c, kDeleteHour);
            del->bind(1, 60);
            del->bind(2, *hour);
            del->bind(3, *hour + kHourMs);
            del.run();
        },
        deadline);
    return true;
}

bool UsageRecorder::purgeOldestHour(Deadline deadline) {
    const auto hour = oldestHour(readers_, deadline, 3600, clock_.nowMs() - options_.keptMs);
    if (!hour) return false;
    writer_.run(
        [&](Connection& c) {
            Query del(c, kDeleteHour);
            del->bind(1, 3600);
            del->bind(2, *hour);
            del->bind(3, *hour + kHourMs);
            del.run();
        },
        deadline);
    return true;
}

}  // namespace calltrack::db
