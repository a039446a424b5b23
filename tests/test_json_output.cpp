// JSON written without a DOM (JsonWriter, isoTimeText, ResourceJson::writeCall,
// the call responses, LogLine) reads exactly as the nlohmann dump it replaced:
// each is checked byte for byte against that dump over random inputs. And the
// log writer's batching keeps every line whole, in order, and counted.

#include "api/json/JsonWriter.h"
#include "api/json/ResourceJson.h"
#include "api/logging/LogLine.h"
#include "api/logging/LogWriter.h"
#include "api/routes/CallMessages.h"
#include "db/IsoTime.h"
#include "db/calls/CallTable.h"
#include "tests/ServeProcess.h"
#include "tests/TestSupport.h"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <ctime>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using api::JsonWriter;
using nlohmann::json;

namespace {

std::string dumped(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Strings that exercise every escaping path: plain text, quotes and
// backslashes, controls, DEL, valid multi-byte UTF-8 and broken UTF-8
// (truncated, overlong, surrogate halves, stray continuation bytes).
std::string randomText(std::mt19937_64& rng) {
    static const std::vector<std::string> pieces = {"a",        "Z",        "0",
                                                    " ",        "\"",       "\\",
                                                    "/",        "\x01",     "\n",
                                                    "\t",       "\x1f",     "\x7f",
                                                    "é",        "€",        "😀",
                                                    "\xE2\x82", "\xC0\xAF", "\xED\xA0\x80",
                                                    "\x80",     "\xFF",     "\xF4\x90\x80\x80",
                                                    "call-123", "{}",       "u0041"};
    std::string out;
    const size_t n = rng() % 12;
    for (size_t i = 0; i < n; ++i) {
        if (rng() % 4 == 0) {
            out += static_cast<char>(rng() % 256);
        } else {
            out += pieces[rng() % pieces.size()];
        }
    }
    return out;
}

std::optional<std::string> maybeText(std::mt19937_64& rng) {
    if (rng() % 3 == 0) return std::nullopt;
    return randomText(rng);
}

std::optional<int64_t> maybeTime(std::mt19937_64& rng) {
    if (rng() % 3 == 0) return std::nullopt;
    return static_cast<int64_t>(rng() % 253402300799999ULL);
}

db::Call randomCall(std::mt19937_64& rng) {
    db::Call c;
    c.id = static_cast<int64_t>(rng() >> 1);
    c.clientId = randomText(rng);
    c.externalId = randomText(rng);
    c.provider = rng() % 2 ? "api" : "twilio";
    c.state = static_cast<db::CallState>(rng() % 10);
    c.holdsSlot = rng() % 2;
    c.wouldRefuse = maybeText(rng);
    if (rng() % 2) c.lastSequence = static_cast<int64_t>(rng() % 1000) - 5;
    c.createdAt = static_cast<int64_t>(rng() % 4102444800000ULL);
    c.admittedAt = maybeTime(rng);
    c.updatedAt = static_cast<int64_t>(rng() % 4102444800000ULL);
    c.answeredAt = maybeTime(rng);
    c.endedAt = maybeTime(rng);
    c.expiresAt = maybeTime(rng);
    c.endReason = maybeText(rng);
    c.version = static_cast<int64_t>(rng() % 100);
    if (rng() % 2) {
        c.metadata = dumped(json{{"campaign", randomText(rng)},
                                 {"n", static_cast<int64_t>(rng() % 1000)},
                                 {"b", {{"z", 1}, {"a", json::array({1.5, nullptr, true})}}}});
    }
    c.botId = maybeText(rng);
    c.providerCallId = maybeText(rng);
    c.heartbeats = static_cast<int64_t>(rng() % 5);
    c.lastHeartbeatAt = maybeTime(rng);
    return c;
}

// The call object exactly as the DOM version of ResourceJson::call built it
// before writeCall (the shape the OpenAPI document and clients rely on).
json referenceTime(const std::optional<int64_t>& ms) {
    return ms ? json(db::isoTime(*ms)) : json(nullptr);
}
template <class T>
json referenceOrNull(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}
json referenceCall(const db::Call& c) {
    json j = {{"id", c.id},
              {"client_id", c.clientId},
              {"external_id", c.externalId},
              {"provider", c.provider},
              {"state", db::nameOf(c.state)},
              {"live", c.live()},
              {"holds_slot", c.holdsSlot},
              {"would_refuse", referenceOrNull(c.wouldRefuse)},
              {"created_at", db::isoTime(c.createdAt)},
              {"admitted_at", referenceTime(c.admittedAt)},
              {"updated_at", db::isoTime(c.updatedAt)},
              {"answered_at", referenceTime(c.answeredAt)},
              {"ended_at", referenceTime(c.endedAt)},
              {"expires_at", referenceTime(c.expiresAt)},
              {"end_reason", referenceOrNull(c.endReason)},
              {"last_sequence", referenceOrNull(c.lastSequence)},
              {"version", c.version},
              {"bot_id", referenceOrNull(c.botId)},
              {"provider_call_id", referenceOrNull(c.providerCallId)},
              {"heartbeats", c.heartbeats},
              {"last_heartbeat_at", referenceTime(c.lastHeartbeatAt)},
              {"metadata", nullptr}};
    if (c.metadata) j["metadata"] = json::parse(*c.metadata);
    return j;
}

std::string gmtimeReference(int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace

TEST_SUITE("JSON text") {
    TEST_CASE("strings are escaped exactly as nlohmann dumps them, broken UTF-8 included") {
        std::mt19937_64 rng(20261202);
        for (int i = 0; i < 50000; ++i) {
            const std::string text = randomText(rng);
            std::string mine;
            JsonWriter::appendString(mine, text);
            REQUIRE_MESSAGE(
                mine == dumped(json(text)),
                "input bytes: " << json(text).dump(-1, ' ', true, json::error_handler_t::replace));
            CHECK(json::accept(mine));
        }
    }

    TEST_CASE("nesting, separators and every value kind match the DOM's dump") {
        std::string text;
        JsonWriter w(text);
        w.beginObject()
            .key("a")
            .value(int64_t{-5})
            .key("b")
            .beginArray()
            .value(true)
            .value(nullptr)
            .beginObject()
            .endObject()
            .beginArray()
            .endArray()
            .value(1.5)
            .value(std::numeric_limits<int64_t>::min())
            .value(std::numeric_limits<int64_t>::max())
            .endArray()
            .key("c")
            .value(json{{"y", "é"}, {"x", 1}})
            .key("d")
            .rawValue("[1,2]")
            .key("e")
            .value(std::optional<std::string>())
            .key("f")
            .value(std::optional<std::string>("q\""))
            .key("g")
            .value(false)
            .endObject();
        const json expected = {{"a", -5},
                               {"b", json::array({true, nullptr, json::object(), json::array(), 1.5,
                                                  std::numeric_limits<int64_t>::min(),
                                                  std::numeric_limits<int64_t>::max()})},
                               {"c", {{"x", 1}, {"y", "é"}}},
                               {"d", {1, 2}},
                               {"e", nullptr},
                               {"f", "q\""},
                               {"g", false}};
        CHECK(text == dumped(expected));
    }

    TEST_CASE("numbers read back as written; what JSON cannot hold is null") {
        for (double d : {0.0, -0.0, 1.0, 0.1, 1e-7, 123456789012.0, 1e300, 5e-324, -2.5}) {
            std::string text;
            JsonWriter(text).value(d);
            CHECK(json::parse(text).get<double>() == d);
            CHECK(text == dumped(json(d)));
        }
        for (double d : {std::nan(""), std::numeric_limits<double>::infinity()}) {
            std::string text;
            JsonWriter(text).value(d);
            CHECK(text == "null");
        }
        // A failed parse is "<discarded>" in nlohmann's dump: not JSON.
        std::string text;
        JsonWriter(text).value(json::parse("{oops", nullptr, false));
        CHECK(text == "null");
    }

    TEST_CASE("nesting deeper than the writer tracks is refused, not mis-separated") {
        std::string text;
        JsonWriter w(text);
        for (int i = 0; i < 64; ++i) w.beginArray();
        CHECK_THROWS_AS(w.beginArray(), std::logic_error);
        // Refused without a trace: the next value is separated correctly.
        w.value(1).value(2);
        for (int i = 0; i < 64; ++i) w.endArray();
        CHECK(text == std::string(64, '[') + "1,2" + std::string(64, ']'));
    }

    TEST_CASE("a call that would make the text invalid JSON throws, writing nothing more") {
        const auto refused = [](const std::function<void(JsonWriter&)>& prefix,
                                const std::function<void(JsonWriter&)>& misuse) {
            std::string text;
            JsonWriter w(text);
            prefix(w);
            const std::string before = text;
            CHECK_THROWS_AS(misuse(w), std::logic_error);
            CHECK(text == before);
        };
        const auto none = [](JsonWriter&) {};
        const auto object = [](JsonWriter& w) { w.beginObject(); };
        const auto array = [](JsonWriter& w) { w.beginArray(); };
        const auto keyed = [](JsonWriter& w) { w.beginObject().key("k"); };
        refused(none, [](JsonWriter& w) { w.endObject(); });
        refused(none, [](JsonWriter& w) { w.endArray(); });
        refused(none, [](JsonWriter& w) { w.key("k"); });
        refused([](JsonWriter& w) { w.value(1); }, [](JsonWriter& w) { w.value(2); });
        refused(object, [](JsonWriter& w) { w.value(1); });
        refused(object, [](JsonWriter& w) { w.beginArray(); });
        refused(object, [](JsonWriter& w) { w.endArray(); });
        refused(array, [](JsonWriter& w) { w.key("k"); });
        refused(array, [](JsonWriter& w) { w.endObject(); });
        refused(keyed, [](JsonWriter& w) { w.key("again"); });
        refused(keyed, [](JsonWriter& w) { w.endObject(); });
        refused(keyed, [](JsonWriter& w) { w.rawValue(""); });
        // The refusals leave a usable writer: the same calls in order work.
        std::string text;
        JsonWriter w(text);
        w.beginObject().key("k").beginArray().value(1).endArray().endObject();
        CHECK(text == R"({"k":[1]})");
    }

    TEST_CASE("times are gmtime_r's, without its lock, for every year the API shows") {
        std::mt19937_64 rng(7);
        std::vector<int64_t> samples = {0,
                                        999,
                                        1000,
                                        86'399'999,
                                        951'782'400'000,    // 2000-02-29
                                        4'107'542'400'000,  // 2100-03-01 (no Feb 29)
                                        253'402'300'799'999};
        for (int i = 0; i < 200000; ++i)
            samples.push_back(static_cast<int64_t>(rng() % 253'402'300'800'000ULL));
        for (int64_t ms : samples) {
            REQUIRE_MESSAGE(db::isoTime(ms) == gmtimeReference(ms), "ms " << ms);
            REQUIRE(db::parseIsoTime(db::isoTime(ms)) == ms);
        }
        // Before 1970 the millisecond part counts forward from the second.
        CHECK(db::isoTime(-1) == "1969-12-31T23:59:59.999Z");
        // An operator's edit far outside years 0000..9999 shows clamped.
        CHECK(db::isoTime(std::numeric_limits<int64_t>::max()) == "9999-12-31T23:59:59.999Z");
        CHECK(db::isoTime(std::numeric_limits<int64_t>::min()) == "0000-01-01T00:00:00.000Z");
    }

    TEST_CASE("a call, an admission and an event answer byte for byte as their DOM did") {
        std::mt19937_64 rng(42);
        for (int i = 0; i < 5000; ++i) {
            const db::Call c = randomCall(rng);
            std::string text;
            JsonWriter w(text);
            api::ResourceJson::writeCall(w, c);
            REQUIRE(text == dumped(referenceCall(c)));

            db::AdmitResult admitted;
            admitted.outcome =
                rng() % 2 ? db::AdmitResult::Outcome::admitted : db::AdmitResult::Outcome::existing;
            admitted.call = c;
            admitted.client = {static_cast<int64_t>(rng() % 100), 100};
            admitted.global = {static_cast<int64_t>(rng() % 1000), 0};
            const json admittedRef = {
                {"call", referenceCall(c)},
                {"outcome",
                 admitted.outcome == db::AdmitResult::Outcome::admitted ? "admitted" : "existing"},
                {"usage",
                 {{"client",
                   {{"active", admitted.client.active}, {"max_concurrent", admitted.client.limit}}},
                  {"global",
                   {{"active", admitted.global.active},
                    {"max_concurrent", admitted.global.limit}}}}}};
            REQUIRE(api::CallMessages::admittedBody(admitted) == dumped(admittedRef));

            db::EventResult event;
            event.outcome = static_cast<db::EventOutcome>(rng() % 7);
            if (rng() % 4) event.call = c;
            if (rng() % 2) event.detail = randomText(rng);
            json eventRef = {{"outcome", db::nameOf(event.outcome)}};
            eventRef["call"] = event.call ? referenceCall(*event.call) : json(nullptr);
            if (!event.detail.empty()) eventRef["detail"] = event.detail;
            REQUIRE(api::CallMessages::eventBody(event) == dumped(eventRef));
        }
    }

    TEST_CASE("log lines: time, level and msg first, then the fields, always valid JSON") {
        api::LogLine line(api::LogLevel::warn, "bad \xFF message", 951'782'400'123);
        line.field("request_id", std::string("r-1"))
            .field("status", 503)
            .field("duration_ms", 1.25)
            .field("path", std::string("/v1/calls/\x01\xC0"))
            .field("msg", std::string("cannot replace the line's own msg"))
            .fields(json{{"outcome", "applied"}, {"call_sid", "CA1"}})
            .fields(json(nullptr))
            .fields(json::array({1, 2}));
        const std::string text = line.finish();
        CHECK(text.rfind(R"({"time":"2000-02-29T00:00:00.123Z","level":"warn","msg":)", 0) == 0);
        const json parsed = json::parse(text);
        CHECK(parsed["msg"] == "bad \xEF\xBF\xBD message");
        CHECK(parsed["request_id"] == "r-1");
        CHECK(parsed["status"] == 503);
        CHECK(parsed["duration_ms"] == 1.25);
        CHECK(parsed["path"] == "/v1/calls/\x01\xEF\xBF\xBD");
        CHECK(parsed["outcome"] == "applied");
        CHECK(parsed["call_sid"] == "CA1");
        CHECK(parsed.size() == 9);
        // Fields keep the order given: request_id before status before path.
        CHECK(text.find("request_id") < text.find("status"));
        CHECK(text.find("status") < text.find("\"path\""));
    }
}

namespace {

// Reads everything from fd until EOF, one recv per record (SOCK_SEQPACKET
// keeps each write() a record of its own).
std::vector<std::string> readRecords(int fd) {
    std::vector<std::string> records;
    std::vector<char> buf(1 << 17);
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 30'000) <= 0) break;  // liveness bound, not a speed check
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        records.emplace_back(buf.data(), static_cast<size_t>(n));
    }
    return records;
}

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
        lines.push_back(text.substr(start, end - start));
    if (start < text.size()) lines.push_back(text.substr(start));
    return lines;
}

std::string joined(const std::vector<std::string>& records) {
    std::string all;
    for (const auto& r : records) all += r;
    return all;
}

}  // namespace

namespace {

// SIGPIPE ignored while a test writes to a pipe whose reader is gone (the
// write then fails with EPIPE, as serve's does), restored after.
struct IgnoredSigpipe {
    struct sigaction previous {};
    IgnoredSigpipe() {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        REQUIRE(::sigaction(SIGPIPE, &ignore, &previous) == 0);
    }
    ~IgnoredSigpipe() { ::sigaction(SIGPIPE, &previous, nullptr); }
    IgnoredSigpipe(const IgnoredSigpipe&) = delete;
    IgnoredSigpipe& operator=(const IgnoredSigpipe&) = delete;
};

}  // namespace

TEST_SUITE("log writer") {
    TEST_CASE("lines from many threads come out whole, in each thread's order, PIPE_BUF-sized") {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
        std::vector<std::string> records;
        std::thread reader([&] { records = readRecords(fds[0]); });
        constexpr int kThreads = 4, kLines = 3000;
        const std::string longLine = "{\"long\":\"" + std::string(3 * PIPE_BUF, 'x') + "\"}";
        {
            api::LogWriter writer(fds[1], 100000);
            std::vector<std::thread> pushers;
            for (int t = 0; t < kThreads; ++t) {
                pushers.emplace_back([&writer, t] {
                    for (int i = 0; i < kLines; ++i)
                        writer.push(
                            json{{"t", t}, {"i", i}, {"pad", std::string(i % 300, 'p')}}.dump());
                });
            }
            writer.push(longLine);
            for (auto& p : pushers) p.join();
            CHECK(writer.dropped() == 0);
        }  // stops: what is queued is written first
        ::close(fds[1]);
        reader.join();
        ::close(fds[0]);

        std::map<int, int> next;
        int longSeen = 0;
        size_t lines = 0;
        for (const auto& line : splitLines(joined(records))) {
            ++lines;
            if (line == longLine) {
                ++longSeen;
                continue;
            }
            const json j = json::parse(line, nullptr, false);
            REQUIRE_MESSAGE(!j.is_discarded(), "a torn line: " << line.substr(0, 80));
            const int t = j["t"];
            CHECK(j["i"].get<int>() == next[t]);
            next[t] = j["i"].get<int>() + 1;
        }
        CHECK(lines == kThreads * kLines + 1);
        CHECK(longSeen == 1);
        for (int t = 0; t < kThreads; ++t) CHECK(next[t] == kLines);
        // Every write is at most PIPE_BUF; only the pieces of the one longer
        // line end elsewhere than at a line's end.
        size_t notAtLineEnd = 0;
        for (const auto& r : records) {
            CHECK(r.size() <= PIPE_BUF);
            if (r.back() != '\n') ++notAtLineEnd;
        }
        CHECK(notAtLineEnd <= 3);
        // Batched: fewer writes than lines (each write holds many lines).
        CHECK(records.size() < lines);
    }

    TEST_CASE("a reader that stalls: lines beyond the queue are dropped, counted and reported") {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        constexpr int kLines = 2000;
        const std::string pad(200, 'p');
        // A long drain bound: stopping must not drop what a slow reader
        // (a loaded CI machine) would still take.
        // The clock outlives the writer's thread, which reads it.
        const db::ManualClock clock(1'764'000'000'000);
        std::optional<api::LogWriter> writer;
        writer.emplace(fds[1], 50, std::chrono::seconds(30), &clock);
        // Nobody reads: the 64 KiB pipe holds ~300 lines, the queue 50, the
        // writer's batch at most 50; the rest must drop.
        for (int i = 0; i < kLines; ++i) writer->push(json{{"i", i}, {"pad", pad}}.dump());
        CHECK(writer->dropped() > 0);
        std::vector<std::string> records;
        std::thread reader([&] { records = readRecords(fds[0]); });
        writer->push(json{{"i", kLines}, {"pad", pad}}.dump());
        // Only a failed or stalled descriptor drops while stopping; this one
        // is read, so the count is final before the drain.
        const uint64_t dropped = writer->dropped();
        writer.reset();
        ::close(fds[1]);
        reader.join();
        ::close(fds[0]);

        uint64_t delivered = 0, reported = 0;
        int last = -1;
        for (const auto& line : splitLines(joined(records))) {
            const json j = json::parse(line, nullptr, false);
            REQUIRE_MESSAGE(!j.is_discarded(), "a torn line: " << line.substr(0, 80));
            if (j.contains("dropped")) {
                CHECK(j["msg"] == "log lines dropped: stderr did not keep up");
                // Shaped like every other line: time, level, msg first.
                CHECK(line.rfind(R"({"time":")" +
                                     std::string(db::isoTimeText(clock.nowMs()).view()) +
                                     R"(","level":"warn","msg":)",
                                 0) == 0);
                reported += j["dropped"].get<uint64_t>();
                continue;
            }
            CHECK(j["i"].get<int>() > last);  // what is kept stays in order
            last = j["i"];
            ++delivered;
        }
        CHECK(delivered + dropped == kLines + 1);
        CHECK(reported > 0);
        CHECK(reported <= dropped);
    }

    TEST_CASE("a burst over 256 KiB whose reader goes away: its unwritten lines are counted") {
        // The writer releases a large burst's text after writing it; when the
        // descriptor failed part-way it counted the burst's unwritten lines
        // after releasing the text: a read past the buffer, and no count.
        const IgnoredSigpipe sigpipe;
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        REQUIRE(::fcntl(fds[1], F_SETPIPE_SZ, 65536) >= 65536);
        // Fill the pipe, so the writer stalls on its first line.
        const int flags = ::fcntl(fds[1], F_GETFL);
        REQUIRE(::fcntl(fds[1], F_SETFL, flags | O_NONBLOCK) == 0);
        const std::string filler(4096, 'f');
        size_t filled = 0;
        for (ssize_t n; (n = ::write(fds[1], filler.data(), filler.size())) > 0;)
            filled += static_cast<size_t>(n);
        REQUIRE(::fcntl(fds[1], F_SETFL, flags) == 0);
        REQUIRE(filled >= 65536);

        constexpr int kLines = 4000;
        const std::string pad(280, 'p');
        api::LogWriter writer(fds[1], 100000);
        writer.push(json{{"i", 0}, {"pad", pad}}.dump());
        // Let the writer take line 0 alone, so the rest (~1.2 MB) is one batch.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        for (int i = 1; i < kLines; ++i) writer.push(json{{"i", i}, {"pad", pad}}.dump());
        // Free the filler's room: the writer writes line 0 and the start of
        // the big batch, then stalls again on the full pipe.
        std::vector<char> buffer(4096);
        for (size_t drained = 0; drained < filled;) {
            const ssize_t n =
                ::read(fds[0], buffer.data(), std::min(buffer.size(), filled - drained));
            REQUIRE(n > 0);
            drained += static_cast<size_t>(n);
        }
        // Full again: ~58 KiB of whole-line pieces, unchanged for 300 ms.
        int queued = 0;
        for (auto [until, same] =
                 std::pair{std::chrono::steady_clock::now() + std::chrono::seconds(10), 0};
             same < 6 && std::chrono::steady_clock::now() < until;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            int now = 0;
            REQUIRE(::ioctl(fds[0], FIONREAD, &now) == 0);
            same = (now == queued && now > 32768) ? same + 1 : 0;
            queued = now;
        }
        REQUIRE(queued > 32768);
        ::close(fds[0]);  // the reader goes: the next poll says POLLERR
        uint64_t dropped = 0;
        for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
             dropped == 0 && std::chrono::steady_clock::now() < until;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            dropped = writer.dropped();
        }
        // What the pipe held when its reader left were whole lines of
        // 300..304 bytes with their newlines (pieces end at line ends).
        const size_t shortest = json{{"i", 1}, {"pad", pad}}.dump().size() + 1;
        const size_t longest = json{{"i", kLines}, {"pad", pad}}.dump().size() + 1;
        const uint64_t inPipeMax = static_cast<size_t>(queued) / shortest;
        const uint64_t inPipeMin = static_cast<size_t>(queued) / longest;
        INFO("pipe held " << queued << " bytes; dropped " << dropped);
        CHECK(dropped >= kLines - inPipeMax);
        CHECK(dropped <= kLines - inPipeMin);
        ::close(fds[1]);
    }

    TEST_CASE("a descriptor that fails takes nothing more: every line is counted as dropped") {
        const IgnoredSigpipe sigpipe;
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        ::close(fds[0]);  // no reader: poll says POLLERR, write says EPIPE
        constexpr uint64_t kLines = 500;
        {
            api::LogWriter writer(fds[1], 100000);
            for (uint64_t i = 0; i < kLines; ++i) writer.push(json{{"i", i}}.dump());
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (writer.dropped() < kLines && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            CHECK(writer.dropped() == kLines);
        }
        ::close(fds[1]);
    }
}

TEST_CASE("metadata an operator's sqlite3 edit left unreadable answers as null, in valid JSON") {
    // json_valid() (the table's CHECK) accepts a string holding a byte that
    // is not UTF-8; nlohmann's parser refuses it. Before writeCall the
    // failed parse was dumped as <discarded>: GET answered text no client
    // could parse.
    test::ServeProcess serve;
    httplib::Client client("127.0.0.1", serve.port());
    REQUIRE(client.Put("/v1/clients/c1", R"({"max_concurrent":5})", "application/json")->status ==
            201);
    auto admitted =
        client.Post("/v1/calls", R"({"client_id":"c1","external_id":"x1","metadata":{"a":"b"}})",
                    "application/json");
    REQUIRE(admitted->status == 201);
    const int64_t id = json::parse(admitted->body)["call"]["id"];
    {
        auto shell = test::openRaw(serve.db());
        shell.exec(
            "UPDATE calls SET metadata = CAST(X'7B2261223A22FF227D' AS TEXT)");  // {"a":"\xFF"}
    }
    for (const std::string& path : {"/v1/calls/" + std::to_string(id), std::string("/v1/calls")}) {
        auto res = client.Get(path);
        REQUIRE(res);
        CHECK(res->status == 200);
        const json body = json::parse(res->body, nullptr, false);
        REQUIRE_MESSAGE(!body.is_discarded(), path << " answered invalid JSON: " << res->body);
        const json& call = body.contains("call") ? body["call"] : body["calls"][0];
        CHECK(call["id"] == id);
        CHECK(call["metadata"].is_null());
    }
}
