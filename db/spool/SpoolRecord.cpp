#include "db/spool/SpoolRecord.h"

#include "db/EngineError.h"

#include <sys/random.h>

#include <nlohmann/json.hpp>

#include <array>

namespace calltrack::db {

namespace {

using nlohmann::json;

template <class T>
void put(json& j, const char* name, const std::optional<T>& value) {
    if (value) j[name] = *value;
}

template <class T>
std::optional<T> get(const json& j, const char* name) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<T>();
}

json encodeRef(const CallRef& ref) {
    json j = json::object();
    put(j, "id", ref.id);
    put(j, "client_id", ref.clientId);
    put(j, "external_id", ref.externalId);
    return j;
}

CallRef decodeRef(const json& j) {
    return CallRef{get<int64_t>(j, "id"), get<std::string>(j, "client_id"),
                   get<std::string>(j, "external_id")};
}

CallState stateOf(const json& j) {
    const auto text = j.at("status").get<std::string>();
    const auto state = parseCallState(text);
    if (!state) throw EngineError(ErrorCode::invalid_argument, "spool record: bad status " + text);
    return *state;
}

}  // namespace

const char* SpoolRecord::kind() const {
    switch (event.index()) {
        case 0:
            return "twilio";
        case 1:
            return "status";
        case 2:
            return "end";
        case 3:
            return "heartbeat";
        default:
            return "admit";
    }
}

std::string SpoolRecord::callLabel() const {
    const auto label = [](const CallRef& r) {
        if (r.id) return "id:" + std::to_string(*r.id);
        return r.clientId.value_or("") + "/" + r.externalId.value_or("");
    };
    if (const auto* t = std::get_if<TwilioEvent>(&event))
        return t->callId ? "id:" + std::to_string(*t->callId) : t->callSid;
    if (const auto* s = std::get_if<StatusEvent>(&event)) return label(s->call);
    if (const auto* e = std::get_if<EndRequest>(&event)) return label(e->call);
    if (const auto* a = std::get_if<AdmitRequest>(&event))
        return a->clientId + "/" + a->externalId.value_or("");
    return label(std::get<HeartbeatRequest>(event).call);
}

std::string SpoolRecord::encode(const SpoolRecord& r) {
    json j = {{"v", 1}, {"key", r.key}, {"received_at", r.receivedAtMs}, {"kind", r.kind()}};
    if (const auto* t = std::get_if<TwilioEvent>(&r.event)) {
        j["account_sid"] = t->accountSid;
        j["call_sid"] = t->callSid;
        put(j, "call_id", t->callId);
        j["status"] = nameOf(t->status);
        put(j, "sequence", t->sequence);
        put(j, "occurred_at", t->occurredAtMs);
        put(j, "event_id", t->eventId);
    } else if (const auto* s = std::get_if<StatusEvent>(&r.event)) {
        j["call"] = encodeRef(s->call);
        j["status"] = nameOf(s->status);
        put(j, "sequence", s->sequence);
        put(j, "occurred_at", s->occurredAtMs);
        put(j, "event_id", s->eventId);
        put(j, "expected_version", s->expectedVersion);
        put(j, "reason", s->reason);
        j["source"] = s->source;
    } else if (const auto* e = std::get_if<EndRequest>(&r.event)) {
        j["call"] = encodeRef(e->call);
        put(j, "reason", e->reason);
        put(j, "expected_version", e->expectedVersion);
        j["source"] = e->source;
    } else if (const auto* a = std::get_if<AdmitRequest>(&r.event)) {
        j["client_id"] = a->clientId;
        put(j, "external_id", a->externalId);
        j["provider"] = a->provider;
        put(j, "metadata", a->metadataJson);
        j["source"] = a->source;
        put(j, "provider_call_id", a->providerCallId);
    } else {
        const auto& h = std::get<HeartbeatRequest>(r.event);
        j["call"] = encodeRef(h.call);
        j["source"] = h.source;
    }
    return j.dump();
}

SpoolRecord SpoolRecord::decode(std::string_view payload) {
    try {
        const json j = json::parse(payload);
        if (j.at("v").get<int>() != 1)
            throw EngineError(ErrorCode::invalid_argument, "spool record: unknown version");
        SpoolRecord r;
        r.key = j.at("key").get<std::string>();
        r.receivedAtMs = j.at("received_at").get<int64_t>();
        const auto kind = j.at("kind").get<std::string>();
        if (kind == "twilio") {
            TwilioEvent t;
            t.accountSid = j.at("account_sid").get<std::string>();
            t.callSid = j.at("call_sid").get<std::string>();
            t.callId = get<int64_t>(j, "call_id");
            t.status = stateOf(j);
            t.sequence = get<int64_t>(j, "sequence");
            t.occurredAtMs = get<int64_t>(j, "occurred_at");
            t.eventId = get<std::string>(j, "event_id");
            r.event = std::move(t);
        } else if (kind == "status") {
            StatusEvent s;
            s.call = decodeRef(j.at("call"));
            s.status = stateOf(j);
            s.sequence = get<int64_t>(j, "sequence");
            s.occurredAtMs = get<int64_t>(j, "occurred_at");
            s.eventId = get<std::string>(j, "event_id");
            s.expectedVersion = get<int64_t>(j, "expected_version");
            s.reason = get<std::string>(j, "reason");
            s.source = j.at("source").get<std::string>();
            r.event = std::move(s);
        } else if (kind == "end") {
            EndRequest e;
            e.call = decodeRef(j.at("call"));
            e.reason = get<std::string>(j, "reason");
            e.expectedVersion = get<int64_t>(j, "expected_version");
            e.source = j.at("source").get<std::string>();
            r.event = std::move(e);
        } else if (kind == "admit") {
            AdmitRequest a;
            a.clientId = j.at("client_id").get<std::string>();
            a.externalId = get<std::string>(j, "external_id");
            if (!a.externalId)
                throw EngineError(ErrorCode::invalid_argument, "spool record: admit without id");
            a.provider = j.at("provider").get<std::string>();
            a.metadataJson = get<std::string>(j, "metadata");
            a.source = j.at("source").get<std::string>();
            a.providerCallId = get<std::string>(j, "provider_call_id");
            a.admittedOffline = true;
            r.event = std::move(a);
        } else if (kind == "heartbeat") {
            r.event = HeartbeatRequest{decodeRef(j.at("call")), j.at("source").get<std::string>()};
        } else {
            throw EngineError(ErrorCode::invalid_argument, "spool record: unknown kind " + kind);
        }
        if (r.key.empty() || r.key.size() > 64)
            throw EngineError(ErrorCode::invalid_argument, "spool record: bad key");
        return r;
    } catch (const json::exception& e) {
        throw EngineError(ErrorCode::invalid_argument,
                          std::string("spool record: not a calltrack record: ") + e.what());
    }
}

std::string SpoolRecord::newKey() {
    std::array<unsigned char, 16> bytes{};
    size_t got = 0;
    while (got < bytes.size()) {
        const auto n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw EngineError(ErrorCode::internal, "getrandom failed");
        }
        got += static_cast<size_t>(n);
    }
    static const char* const hex = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

}  // namespace calltrack::db
