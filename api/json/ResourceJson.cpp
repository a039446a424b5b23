#include "api/json/ResourceJson.h"

#include "db/IsoTime.h"
#include "db/calls/CallTable.h"

namespace calltrack::api {

namespace {
nlohmann::json time(const std::optional<int64_t>& ms) {
    return ms ? nlohmann::json(db::isoTime(*ms)) : nlohmann::json(nullptr);
}
template <class T>
nlohmann::json orNull(const std::optional<T>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
nlohmann::json policy(const db::WarmPoolPolicy& p) {
    return {{"min_warm", p.minWarm},
            {"headroom", p.headroom},
            {"max_warm", orNull(p.maxWarm)},  // null: no cap but the bots that exist
            {"warm_ttl_s", p.warmTtlS},
            {"lead_time_s", p.leadTimeS}};
}
nlohmann::json percent(int64_t active, int64_t limit) {
    if (limit <= 0) return nullptr;
    return static_cast<double>(static_cast<int64_t>(1000.0 * static_cast<double>(active) /
                                                    static_cast<double>(limit))) /
           10.0;
}
}  // namespace

namespace {
void writeTime(JsonWriter& out, std::optional<int64_t> ms) {
    if (ms) {
        out.value(db::isoTimeText(*ms).view());
    } else {
        out.value(nullptr);
    }
}
}  // namespace

void ResourceJson::writeCall(JsonWriter& out, const db::Call& c) {
    // Keys in byte order, as an nlohmann object (a std::map) dumps them.
    out.beginObject();
    out.key("admitted_at");
    writeTime(out, c.admittedAt);
    out.key("answered_at");
    writeTime(out, c.answeredAt);
    out.key("bot_id").value(c.botId);
    out.key("client_id").value(c.clientId);
    out.key("created_at");
    writeTime(out, c.createdAt);
    out.key("end_reason").value(c.endReason);
    out.key("ended_at");
    writeTime(out, c.endedAt);
    out.key("expires_at");
    writeTime(out, c.expiresAt);
    out.key("external_id").value(c.externalId);
    out.key("heartbeats").value(c.heartbeats);
    out.key("holds_slot").value(c.holdsSlot);
    out.key("id").value(c.id);
    out.key("last_heartbeat_at");
    writeTime(out, c.lastHeartbeatAt);
    out.key("last_sequence").value(c.lastSequence);
    out.key("live").value(c.live());
    // Metadata is JSON text the API validated; text an operator's shell edit
    // broke shows as null rather than as invalid JSON in the response.
    out.key("metadata");
    if (c.metadata) {
        out.value(nlohmann::json::parse(*c.metadata, nullptr, false));
    } else {
        out.value(nullptr);
    }
    out.key("provider").value(c.provider);
    out.key("provider_call_id").value(c.providerCallId);
    out.key("state").value(db::nameOf(c.state));
    out.key("updated_at");
    writeTime(out, c.updatedAt);
    out.key("version").value(c.version);
    out.key("would_refuse").value(c.wouldRefuse);
    out.endObject();
}

nlohmann::json ResourceJson::call(const db::Call& c) {
    std::string text;
    JsonWriter out(text);
    writeCall(out, c);
    return nlohmann::json::parse(text);
}

nlohmann::json ResourceJson::client(const db::Client& k) {
    return {
        {"id", k.id},
        {"name", k.name},
        {"max_concurrent", k.maxConcurrent},
        {"enabled", k.enabled},
        {"mode", db::nameOf(k.mode)},
        {"on_database_unavailable", db::nameOf(k.onDatabaseUnavailable)},
        {"ring_timeout_s", k.ringTimeoutS},
        {"max_call_s", k.maxCallS},
        {"active", k.active},
        {"refused_total", k.refusedTotal},
        {"flagged_total", k.flaggedTotal},
        // Secrets are never returned: only whether they are set.
        {"twilio", k.twilioAccountSid ? nlohmann::json{{"account_sid", *k.twilioAccountSid},
                                                       {"auth_token_set", k.hasTwilioAuthToken},
                                                       {"voice_url", orNull(k.twilioVoiceUrl)}}
                                      : nlohmann::json(nullptr)},
        {"webhook_secret_set", k.hasWebhookSecret},
        {"created_at", db::isoTime(k.createdAt)},
        {"updated_at", db::isoTime(k.updatedAt)},
        {"bots_required", k.botsRequired},
        {"warm_pool", policy(k.warmPool)},
    };
}

nlohmann::json ResourceJson::usage(const db::Usage& u) {
    return {{"active", u.active}, {"max_concurrent", u.limit}};
}

nlohmann::json ResourceJson::usageReport(const db::UsageReport& r) {
    nlohmann::json clients = nlohmann::json::array();
    for (const auto& cu : r.clients) {
        clients.push_back({{"client_id", cu.client.id},
                           {"active", cu.client.active},
                           {"max_concurrent", cu.client.maxConcurrent},
                           {"percent", percent(cu.client.active, cu.client.maxConcurrent)},
                           {"mode", db::nameOf(cu.client.mode)},
                           {"enabled", cu.client.enabled},
                           {"refused_last_minute", cu.refusedRecently},
                           {"refused_total", cu.client.refusedTotal},
                           {"flagged_total", cu.client.flaggedTotal},
                           {"unslotted_active", cu.unslottedActive}});
    }
    return {{"global",
             {{"active", r.global.active},
              {"max_concurrent", r.global.limit},
              {"percent", percent(r.global.active, r.global.limit)},
              {"refused_last_minute", r.refusedRecently}}},
            {"clients", clients}};
}

nlohmann::json ResourceJson::bot(const db::Bot& b) {
    return {
        {"id", b.id},
        {"client_id", orNull(b.clientId)},  // null: shared by all clients
        {"warmup_url", b.warmupUrl},
        {"capacity", b.capacity},
        {"warmup_timeout_ms", b.warmupTimeoutMs},
        {"state", db::nameOf(b.state)},
        {"active_calls", b.activeCalls},
        {"free_capacity", b.capacity - b.activeCalls},
        {"warm_for", orNull(b.poolClientId)},
        {"state_reason", orNull(b.stateReason)},
        {"state_changed_at", db::isoTime(b.stateChangedAt)},
        {"warming_until", time(b.warmingUntil)},
        {"idle_until", time(b.idleUntil)},
        {"retry_at", time(b.retryAt)},
        {"failures", b.failures},
        {"last_warmup_ms", orNull(b.lastWarmupMs)},
        {"attempt_id", orNull(b.attemptId)},
        {"version", b.version},
        {"created_at", db::isoTime(b.createdAt)},
        {"updated_at", db::isoTime(b.updatedAt)},
    };
}

nlohmann::json ResourceJson::schedule(const db::DemandSchedule& s) {
    return {{"id", s.id},
            {"client_id", s.clientId},
            {"starts_at", db::isoTime(s.startsAt)},
            {"ends_at", db::isoTime(s.endsAt)},
            {"expected_concurrency", s.expectedConcurrency},
            {"created_at", db::isoTime(s.createdAt)}};
}

nlohmann::json ResourceJson::warmPool(const db::WarmPoolStatus& s) {
    return {{"client_id", s.clientId},
            {"bots_required", s.botsRequired},
            {"policy", policy(s.policy)},
            {"target", s.target},
            {"ready", s.ready},
            {"warming", s.warming},
            {"busy", s.busy},
            {"failed", s.failed},
            {"cold_available", s.coldAvailable},
            {"usable_bots", s.usableBots},
            {"demand",
             {{"active_calls", s.activeCalls},
              {"unmet", s.unmetDemand},
              {"scheduled_concurrency", s.scheduledConcurrency},
              {"capacity_per_bot", s.capacityPerBot}}},
            {"why", s.why}};
}

nlohmann::json ResourceJson::spool(const db::SpoolStats& s, const db::SpoolOptions& o,
                                   int64_t nowMs) {
    nlohmann::json out = {{"directory", o.directory},
                          {"pending_records", s.pendingRecords},
                          {"pending_bytes", s.pendingBytes},
                          {"oldest_pending_at", nullptr},
                          {"oldest_pending_age_ms", nullptr},
                          {"host_bytes", s.hostBytes},
                          {"other_process_bytes", s.otherProcessBytes},
                          {"max_bytes", o.maxBytes},
                          {"max_age_ms", o.maxAgeMs},
                          {"appended", s.appended},
                          {"applied", s.consumed},
                          {"refused_full", s.refusedFull},
                          {"write_failures", s.writeFailures},
                          {"writable", s.writable},
                          {"segments_adopted", s.segmentsAdopted},
                          {"corrupt_regions", s.corruptRegions},
                          {"torn_tails", s.tornTails}};
    if (s.oldestPendingAtMs) {
        out["oldest_pending_at"] = db::isoTime(*s.oldestPendingAtMs);
        out["oldest_pending_age_ms"] = std::max<int64_t>(0, nowMs - *s.oldestPendingAtMs);
    }
    return out;
}

nlohmann::json ResourceJson::breaker(const db::DatabaseBreaker::Snapshot& b) {
    return {
        {"state", db::nameOf(b.state)},
        {"changed_at",
         b.changedAtMs > 0 ? nlohmann::json(db::isoTime(b.changedAtMs)) : nlohmann::json(nullptr)},
        {"last_error", b.lastError.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.lastError)},
        {"consecutive_failures", b.consecutiveFailures},
        {"opened", b.opened},
        {"rejected", b.rejected}};
}

nlohmann::json ResourceJson::wal(const db::WalStatus& w, int64_t nowMs) {
    const auto at = [](int64_t ms) {
        return ms > 0 ? nlohmann::json(db::isoTime(ms)) : nlohmann::json(nullptr);
    };
    return {{"wal_bytes", w.walBytes},
            {"log_frames", w.logFrames},
            {"checkpointed_frames", w.checkpointedFrames},
            {"frames_behind", std::max<int64_t>(0, w.logFrames - w.checkpointedFrames)},
            {"last_checkpoint_at", at(w.lastAttemptAtMs)},
            {"last_complete_checkpoint_at", at(w.lastCompleteAtMs)},
            {"behind_for_ms", w.behindSinceMs > 0 ? nlohmann::json(nowMs - w.behindSinceMs)
                                                  : nlohmann::json(nullptr)},
            {"truncations", w.truncations},
            {"last_error",
             w.lastError.empty() ? nlohmann::json(nullptr) : nlohmann::json(w.lastError)}};
}

}  // namespace calltrack::api
