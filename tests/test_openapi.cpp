// api/openapi.json against a real validator and against the live server:
//  (a) it is a valid OpenAPI document (@apidevtools/swagger-parser, from npm);
//  (b) every response the real server gives, for every endpoint and error
//      case driven here, matches the document's schema for its path, method
//      and status (ajv, tests/npm/check-responses.mjs);
//  (c) the document and the router list the same routes: every documented
//      path and method is routed, every route in api/**/*.cpp is documented.
// The npm tools live in tests/npm (installed by scripts/test with `npm ci`);
// without them this test fails, it does not skip.

#include "api/http/HttpServer.h"
#include "db/IsoTime.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmupClaims.h"
#include "db/tenants/ApiTokens.h"
#include "tests/NodeSigner.h"
#include "tests/TestDatabase.h"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace calltrack;
using nlohmann::json;

namespace {

const std::string kSource = CALLTRACK_SOURCE_DIR;
const std::string kNpmDir = kSource + "/tests/npm";
const std::string kDocFile = kSource + "/api/openapi.json";

struct CommandResult {
    int exitCode = -1;
    std::string output;  // stdout and stderr
};

CommandResult runCommand(const std::string& command) {
    CommandResult r;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    REQUIRE_MESSAGE(pipe != nullptr, "cannot run: " << command);
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
    const int status = pclose(pipe);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

// The npm tools must be installed: a missing tool is a failure, not a skip.
void requireNpmTools() {
    const auto node = runCommand("node --version");
    REQUIRE_MESSAGE(node.exitCode == 0,
                    "node is not installed: scripts/install-deps installs nodejs and npm");
    for (const char* package : {"@apidevtools/swagger-parser", "ajv", "ajv-formats"}) {
        const auto manifest = kNpmDir + "/node_modules/" + package + "/package.json";
        REQUIRE_MESSAGE(std::filesystem::exists(manifest),
                        "tests/npm/node_modules lacks "
                            << std::string(package)
                            << ": run `npm ci --prefix tests/npm` (scripts/test does it)");
    }
}

json readJsonFile(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    return json::parse(in);
}

// (No <regex> here: libstdc++'s trips -Wmaybe-uninitialized under ASan.)
std::vector<std::string> segments(const std::string& path) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto end = slash == std::string::npos ? path.size() : slash;
        out.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool isParameter(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// The template with each "{name}" segment replaced by `with`.
std::string filledTemplate(const std::string& templ, const std::string& with) {
    const auto parts = segments(templ);
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += '/';
        out += isParameter(parts[i]) ? with : parts[i];
    }
    return out;
}

// "/v1/calls/{id}/end" -> "/v1/calls/{}/end": templates compared without names.
std::string anonymousTemplate(const std::string& templ) {
    return filledTemplate(templ, "{}");
}

bool templateMatches(const std::string& templ, const std::string& path) {
    const auto want = segments(templ), have = segments(path);
    if (want.size() != have.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
        if (isParameter(want[i]) ? have[i].empty() : want[i] != have[i]) return false;
    }
    return true;
}

// One HTTP exchange as check-responses.mjs reads it.
struct Exchange {
    int status = 0;
    json body;
    httplib::Headers headers;
    std::string header(const std::string& name) const {
        for (const auto& [k, v] : headers) {
            if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
        }
        return "";
    }
    std::string code() const {
        return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
    }
};

struct OpenApiFixture {
    explicit OpenApiFixture(std::optional<std::string> adminToken = std::nullopt,
                            db::DatabaseOptions dbOptions = {},
                            std::chrono::milliseconds deadline = std::chrono::milliseconds(2000))
        : t(dbOptions), ctx{*t.database, *t.admission, *t.lifecycle,   *t.clients,
                            bots,        schedules,    providerEvents, *t.intake,
                            t.clock,     log,          deadline} {
        api::HttpOptions options;
        options.port = 0;
        options.threads = 4;
        options.adminToken = adminToken;
        server = std::make_unique<api::HttpServer>(ctx, options);
        server->start();
        client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
        if (adminToken) client->set_bearer_token_auth(*adminToken);
    }

    Exchange send(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& contentType = "application/json",
                  const httplib::Headers& headers = {}) {
        httplib::Request req;
        req.method = method;
        req.path = path;
        req.headers = headers;
        req.body = body;
        if (!body.empty() && !contentType.empty()) req.set_header("Content-Type", contentType);
        auto res = client->send(req);
        REQUIRE_MESSAGE(res, method << " " << path << ": no response");
        Exchange ex;
        ex.status = res->status;
        ex.headers = res->headers;
        ex.body = json::parse(res->body, nullptr, false);
        if (ex.body.is_discarded()) ex.body = res->body;  // recorded as text: fails the schema
        return ex;
    }

    test::TestDatabase t;
    db::BotRegistry bots{t.database->writer(), t.database->readers(), t.clock};
    db::DemandSchedules schedules{t.database->writer(), t.database->readers(), t.clock};
    db::ProviderCallEvents providerEvents{t.database->writer(), t.clock};
    api::JsonLog log{api::LogLevel::error, stderr};
    api::ApiContext ctx;
    std::unique_ptr<api::HttpServer> server;
    std::unique_ptr<httplib::Client> client;
};

// Collects exchanges with their documented path template, writes them as
// JSON lines, and has check-responses.mjs validate them.
class Recorder {
  public:
    explicit Recorder(const json& doc) {
        for (const auto& [path, item] : doc["paths"].items()) {
            templates_.push_back(path);
            for (const auto& [method, op] : item.items()) {
                if (op.is_object() && op.contains("responses")) {
                    operations_.insert(toUpper(method) + " " + path);
                }
            }
        }
    }

    // Sends through the fixture and records the exchange: a JSON body (none
    // when null), or raw() with any body and Content-Type.
    Exchange operator()(OpenApiFixture& f, const std::string& method, const std::string& path,
                        const json& body = nullptr) {
        return record(method, path, f.send(method, path, body.is_null() ? "" : body.dump()));
    }
    // A string literal would silently become a JSON string: use raw().
    Exchange operator()(OpenApiFixture&, const std::string&, const std::string&,
                        const char*) = delete;
    Exchange raw(OpenApiFixture& f, const std::string& method, const std::string& path,
                 const std::string& body, const std::string& contentType = "application/json",
                 const httplib::Headers& headers = {}) {
        return record(method, path, f.send(method, path, body, contentType, headers));
    }
    Exchange record(const std::string& method, const std::string& path, Exchange ex) {
        const std::string bare = path.substr(0, path.find('?'));
        std::string templ = "*";  // no documented path
        // As in OpenAPI, a literal segment wins over a {parameter}.
        size_t fewestParameters = SIZE_MAX;
        for (const auto& candidate : templates_) {
            if (!templateMatches(candidate, bare)) continue;
            const auto parts = segments(candidate);
            const auto parameters =
                static_cast<size_t>(std::count_if(parts.begin(), parts.end(), isParameter));
            if (parameters < fewestParameters) {
                fewestParameters = parameters;
                templ = candidate;
            }
        }
        json headers = json::object();
        for (const char* name : {"X-Request-Id", "Retry-After", "Allow", "WWW-Authenticate"}) {
            if (auto v = ex.header(name); !v.empty()) headers[name] = v;
        }
        json line = {{"method", method},
                     {"path_template", templ},
                     {"status", ex.status},
                     {"body", ex.body},
                     {"headers", headers}};
        // A response with neither body nor Content-Type (204) has no media
        // type to check; any body is still checked against the document.
        const bool noContent = ex.header("Content-Type").empty() && ex.body == json("");
        if (!noContent) line["content_type"] = ex.header("Content-Type");
        lines_.push_back(std::move(line));
        exercised_.insert(method + " " + templ);
        return ex;
    }

    // Documented operations no exchange went to.
    std::vector<std::string> unexercised() const {
        std::vector<std::string> out;
        for (const auto& op : operations_) {
            if (!exercised_.count(op)) out.push_back(op);
        }
        return out;
    }

    size_t size() const { return lines_.size(); }

    void write(const std::string& file) const {
        std::ofstream out(file);
        for (const auto& line : lines_) out << line.dump() << "\n";
    }

  private:
    static std::string toUpper(std::string s) {
        for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        return s;
    }

    std::vector<std::string> templates_;
    std::set<std::string> operations_;
    std::set<std::string> exercised_;
    std::vector<json> lines_;
};

json liveDoc(OpenApiFixture& f) {
    auto ex = f.send("GET", "/openapi.json");
    REQUIRE(ex.status == 200);
    REQUIRE(ex.body.is_object());
    return ex.body;
}

int64_t admittedId(const Exchange& ex) {
    REQUIRE_MESSAGE(ex.status == 201, ex.body.dump());
    return ex.body["call"]["id"].get<int64_t>();
}

// application/x-www-form-urlencoded, as Twilio sends it.
std::string formEncode(const std::vector<std::pair<std::string, std::string>>& params) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out += '&';
        out += name + '=';
        for (unsigned char ch : value) {
            if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
                out += static_cast<char>(ch);
            } else {
                out += '%';
                out += kHex[ch >> 4];
                out += kHex[ch & 0xF];
            }
        }
    }
    return out;
}

// What the server answers to bytes that are no HTTP request (cpp-httplib's
// own 400, which the server gives the API's error shape).
Exchange rawExchange(int port, const std::string& bytes) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    REQUIRE(send(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
    // Read the head, then Content-Length bytes of body (the connection stays open).
    std::string response;
    size_t headerEnd = std::string::npos, wanted = std::string::npos;
    char buf[4096];
    ssize_t n = 0;
    while (response.size() < wanted && (n = recv(fd, buf, sizeof buf, 0)) > 0) {
        response.append(buf, static_cast<size_t>(n));
        if (headerEnd == std::string::npos &&
            (headerEnd = response.find("\r\n\r\n")) != std::string::npos) {
            const auto at = response.find("Content-Length: ");
            wanted =
                headerEnd + 4 + (at < headerEnd ? std::stoul(response.substr(at + 16)) : size_t{0});
        }
    }
    close(fd);
    Exchange ex;
    REQUIRE_MESSAGE(headerEnd != std::string::npos, "no HTTP response: " << response);
    std::istringstream head(response.substr(0, headerEnd));
    std::string line, version;
    std::getline(head, line);
    std::istringstream(line) >> version >> ex.status;
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        ex.headers.emplace(line.substr(0, colon), value);
    }
    ex.body = json::parse(response.substr(headerEnd + 4), nullptr, false);
    return ex;
}

// Bots, warm pools and scheduled demand, and admissions that need a bot:
// every operation with its success and main error responses.
// Issue 8's operations: binding the provider's id, calls by the client's
// external id, Twilio callbacks that name their call (?call_id=), a second
// client on the same account, the inbound gate (TwiML, checked as XML by
// check-responses.mjs) and call_already_ended.
void exerciseProviderFlows(OpenApiFixture& f, Recorder& x) {
    const std::string account = "ACflow0000000000000000000000000001";
    const std::string token = "flow-token";
    for (const char* client : {"dial", "dial2"}) {
        REQUIRE(x(f, "PUT", std::string("/v1/clients/") + client,
                  json{{"max_concurrent", 1},
                       {"twilio",
                        {{"account_sid", account},
                         {"auth_token", token},
                         {"voice_url", "https://bots.example.com/twiml?a=1&b=2"}}}})
                    .status == 201);
    }
    // Outbound: admit, dial, bind the CallSid by PATCH.
    const auto admitted =
        x(f, "POST", "/v1/calls", json{{"client_id", "dial"}, {"external_id", "job-1"}});
    REQUIRE(admitted.status == 201);
    const std::string id = std::to_string(admitted.body["call"]["id"].get<int64_t>());
    CHECK(x(f, "PATCH", "/v1/calls/" + id, json{{"provider_call_id", "CAflow1"}})
              .body["call"]["provider_call_id"] == "CAflow1");
    CHECK(x(f, "PATCH", "/v1/calls/" + id, json{{"provider_call_id", "CAflow1"}}).status == 200);
    CHECK(x(f, "PATCH", "/v1/calls/" + id, json{{"provider_call_id", "CAother"}}).code() ==
          "provider_call_id_conflict");
    CHECK(
        x(f, "PATCH", "/v1/calls/" + id, json{{"provider_call_id", "CAflow1"}, {"x", 1}}).code() ==
        "unknown_field");
    CHECK(x(f, "PATCH", "/v1/calls/" + id, json{{"provider_call_id", "bad sid"}}).code() ==
          "invalid_request");
    CHECK(x(f, "PATCH", "/v1/calls/999999", json{{"provider_call_id", "CAnone"}}).code() ==
          "call_not_found");
    CHECK(x(f, "GET", "/v1/calls?provider_call_id=CAflow1").body["calls"].size() == 1);
    CHECK(x(f, "GET", "/v1/calls?provider_call_id=CAnothing").body["calls"].empty());
    CHECK(x(f, "GET", "/v1/calls?client_id=dial&external_id=job-1").body["calls"].size() == 1);
    CHECK(x(f, "GET", "/v1/calls?external_id=job-1").code() == "invalid_request");

    // By the client's own id.
    const std::string byExt = "/v1/clients/dial/calls/job-1";
    CHECK(x(f, "GET", byExt).body["call"]["id"] == admitted.body["call"]["id"]);
    CHECK(x(f, "GET", "/v1/clients/dial/calls/nope").code() == "call_not_found");
    CHECK(x(f, "PATCH", byExt, json{{"provider_call_id", "CAflow1"}}).status == 200);
    CHECK(x(f, "POST", byExt + "/events", json{{"status", "in-progress"}}).body["outcome"] ==
          "applied");
    CHECK(x(f, "POST", byExt + "/events", json{{"status", "sideways"}}).code() ==
          "invalid_request");
    CHECK(x(f, "POST", byExt + "/heartbeat").body["outcome"] == "applied");
    CHECK(x(f, "POST", byExt + "/heartbeat", json{{"extend", true}}).code() == "unknown_field");
    CHECK(x(f, "POST", "/v1/clients/dial/calls/nope/heartbeat").code() == "call_not_found");
    CHECK(x(f, "POST", byExt + "/end", json{{"reason", "done"}}).body["call"]["state"] ==
          "completed");
    CHECK(x(f, "POST", "/v1/clients/dial/calls/nope/end").code() == "call_not_found");

    // An ended call is never admitted again.
    auto again = x(f, "POST", "/v1/calls", json{{"client_id", "dial"}, {"external_id", "job-1"}});
    CHECK(again.code() == "call_already_ended");
    CHECK(again.body["call"]["state"] == "completed");

    // Status callbacks naming their call, signed over the URL with its query.
    const auto second =
        x(f, "POST", "/v1/calls", json{{"client_id", "dial2"}, {"external_id", "job-2"}});
    REQUIRE(second.status == 201);
    const std::string secondId = std::to_string(second.body["call"]["id"].get<int64_t>());
    const std::string port = std::to_string(f.server->port());
    const std::string hook = "/v1/webhooks/twilio?call_id=" + secondId;
    const std::string gate = "/v1/webhooks/twilio/voice?client_id=dial";
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
        requests = {
            {hook,
             {{"AccountSid", account},
              {"CallSid", "CAflow2"},
              {"CallStatus", "ringing"},
              {"SequenceNumber", "1"}}},
            {hook,
             {{"AccountSid", account},
              {"CallSid", "CAwrong"},
              {"CallStatus", "completed"},
              {"SequenceNumber", "2"}}},
            {"/v1/webhooks/twilio?call_id=999999",
             {{"AccountSid", account}, {"CallSid", "CAflow9"}, {"CallStatus", "ringing"}}},
            {gate,
             {{"AccountSid", account},
              {"CallSid", "CAin1"},
              {"CallStatus", "ringing"},
              {"Direction", "inbound"}}},
            {gate,
             {{"AccountSid", account},
              {"CallSid", "CAin2"},
              {"CallStatus", "ringing"},
              {"Direction", "inbound"}}},
            {gate, {{"AccountSid", account}, {"CallSid", "bad sid!"}, {"CallStatus", "ringing"}}},
        };
    json toSign = json::array();
    for (const auto& [path, params] : requests) {
        json object = json::object();
        for (const auto& [k, v] : params) object[k] = v;
        toSign.push_back({{"kind", "twilio"},
                          {"authToken", token},
                          {"url", "http://127.0.0.1:" + port + path},
                          {"params", object}});
    }
    const auto sigs = test::NodeSigner::sign(toSign);
    const char* form = "application/x-www-form-urlencoded";
    auto post = [&](size_t i) {
        return x.raw(f, "POST", requests[i].first, formEncode(requests[i].second), form,
                     {{"X-Twilio-Signature", sigs[i]}});
    };
    auto bound = post(0);
    CHECK(bound.body["outcome"] == "applied");
    CHECK(bound.body["call"]["provider_call_id"] == "CAflow2");
    auto contradicting = post(1);
    CHECK(contradicting.code() == "provider_call_id_conflict");
    CHECK(contradicting.body["call"]["state"] == "ringing");
    CHECK(post(2).code() == "call_not_found");
    auto admittedIn = post(3);
    CHECK(admittedIn.status == 200);
    CHECK(admittedIn.header("Content-Type").rfind("text/xml", 0) == 0);
    CHECK(admittedIn.body == json("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Redirect "
                                  "method=\"POST\">https://bots.example.com/twiml?a=1&amp;b=2"
                                  "</Redirect></Response>"));
    // The client's one slot is taken: the next inbound call hears busy.
    CHECK(post(4).body == json("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject "
                               "reason=\"busy\"/></Response>"));
    CHECK(post(5).code() == "invalid_request");
    CHECK(x.raw(f, "POST", gate, formEncode(requests[3].second), form,
                {{"X-Twilio-Signature", "bm90IGl0"}})
              .code() == "invalid_signature");
    CHECK(x.raw(f, "POST", "/v1/webhooks/twilio/voice", "CallSid=CA1", form).code() ==
          "invalid_request");
    CHECK(x.raw(f, "POST", gate, "{}", "application/json").code() == "unsupported_media_type");
}

void exerciseBots(OpenApiFixture& f, Recorder& x) {
    CHECK(x(f, "PUT", "/v1/clients/botco",
            json{{"max_concurrent", 5},
                 {"bots_required", true},
                 {"warm_pool",
                  {{"min_warm", 0},
                   {"headroom", 1},
                   {"max_warm", nullptr},
                   {"warm_ttl_s", 300},
                   {"lead_time_s", 60}}}})
              .status == 201);
    CHECK(x(f, "PUT", "/v1/clients/botco", json{{"warm_pool", {{"max_warm", 3}}}})
              .body["client"]["warm_pool"]["max_warm"] == 3);
    CHECK(x(f, "PUT", "/v1/clients/botco", json{{"warm_pool", {{"min_warm", 4}}}}).code() ==
          "invalid_request");  // above max_warm
    CHECK(x(f, "PUT", "/v1/clients/botco", json{{"warm_pool", {{"min_ready", 1}}}}).code() ==
          "unknown_field");
    CHECK(x(f, "PUT", "/v1/clients/botco", json{{"bots_required", "yes"}}).code() ==
          "invalid_request");

    // No warm bot yet: refused, with the engine's retry hint.
    auto refused = x(f, "POST", "/v1/calls", json{{"client_id", "botco"}, {"external_id", "CB1"}});
    CHECK(refused.status == 429);
    CHECK(refused.code() == "bot_unavailable");
    CHECK_FALSE(refused.header("Retry-After").empty());

    const std::string url = "http://127.0.0.1:9/warm";
    CHECK(x(f, "PUT", "/v1/bots/bot-1", json{{"client_id", "botco"}, {"warmup_url", url}}).status ==
          201);
    CHECK(x(f, "PUT", "/v1/bots/bot-1",
            json{{"client_id", "botco"},
                 {"warmup_url", url},
                 {"capacity", 2},
                 {"warmup_timeout_ms", 5000}})
              .status == 200);
    CHECK(x(f, "PUT", "/v1/bots/shared-1",
            json{{"client_id", nullptr}, {"warmup_url", "https://bots.example/warm"}})
              .status == 201);
    CHECK(x(f, "PUT", "/v1/bots/bot-2", json{{"client_id", "ghost"}, {"warmup_url", url}}).code() ==
          "unknown_client");
    CHECK(x(f, "PUT", "/v1/bots/bot-2", json{{"warmup_url", "ftp://bots.example/warm"}}).code() ==
          "invalid_request");
    CHECK(x(f, "PUT", "/v1/bots/bot-2", json{{"warmup_url", url}, {"capacity", 0}}).code() ==
          "invalid_request");
    CHECK(x(f, "PUT", "/v1/bots/bot-2", json::object()).code() == "invalid_request");
    CHECK(x(f, "PUT", "/v1/bots/bad%20id", json{{"warmup_url", url}}).code() == "invalid_request");
    CHECK(x.raw(f, "PUT", "/v1/bots/bot-2", "{").code() == "malformed_json");
    CHECK(x.raw(f, "PUT", "/v1/bots/bot-2", "warmup_url=x", "text/plain").code() ==
          "unsupported_media_type");
    CHECK(x(f, "GET", "/v1/bots/bot-1").body["bot"]["state"] == "cold");
    CHECK(x(f, "GET", "/v1/bots/nobot").code() == "bot_not_found");
    CHECK(x(f, "GET", "/v1/bots").body["bots"].size() == 2);
    CHECK(x(f, "GET", "/v1/bots?client_id=botco&state=cold").body["bots"].size() == 1);
    CHECK(x(f, "GET", "/v1/bots?state=sleepy").code() == "invalid_request");

    const int64_t now = f.t.clock.nowMs();
    const json campaign = {{"starts_at", db::isoTime(now + 3'600'000)},
                           {"ends_at", db::isoTime(now + 7'200'000)},
                           {"expected_concurrency", 3}};
    auto scheduled = x(f, "POST", "/v1/clients/botco/schedule", campaign);
    CHECK(scheduled.status == 201);
    const std::string scheduleUrl = "/v1/clients/botco/schedule/" +
                                    std::to_string(scheduled.body["schedule"]["id"].get<int64_t>());
    CHECK(x(f, "POST", "/v1/clients/ghost/schedule", campaign).code() == "unknown_client");
    CHECK(x(f, "POST", "/v1/clients/botco/schedule",
            json{{"starts_at", "tomorrow"},
                 {"ends_at", campaign["ends_at"]},
                 {"expected_concurrency", 3}})
              .code() == "invalid_request");
    CHECK(x(f, "POST", "/v1/clients/botco/schedule",
            json{{"starts_at", campaign["ends_at"]},
                 {"ends_at", campaign["starts_at"]},
                 {"expected_concurrency", 3}})
              .code() == "invalid_request");
    CHECK(x.raw(f, "POST", "/v1/clients/botco/schedule", "x", "text/plain").code() ==
          "unsupported_media_type");
    CHECK(x(f, "GET", "/v1/clients/botco/schedule").body["schedules"].size() == 1);
    CHECK(x(f, "GET", "/v1/clients/ghost/schedule").code() == "unknown_client");
    CHECK(x(f, "GET", "/v1/clients/botco/warm-pool").body["warm_pool"]["target"] >= 1);
    CHECK(x(f, "GET", "/v1/clients/ghost/warm-pool").code() == "unknown_client");

    // Warm the pool the way the scheduler does, minus the network.
    db::WarmupClaims claims(f.t.database->writer(), f.t.clock);
    db::PlanOptions plan;
    plan.maxJobs = 10;
    for (const auto& job : claims.plan(plan).jobs) CHECK(claims.recordSuccess(job, 50));
    const auto admitted =
        x(f, "POST", "/v1/calls", json{{"client_id", "botco"}, {"external_id", "CB1"}});
    REQUIRE_MESSAGE(admitted.status == 201, admitted.body.dump());
    CHECK(admitted.body["call"]["bot_id"] == "bot-1");
    CHECK(x(f, "GET", "/v1/bots/bot-1").body["bot"]["state"] == "busy");
    CHECK(x(f, "DELETE", "/v1/bots/bot-1").code() == "bot_busy");
    CHECK(x(f, "PUT", "/v1/bots/bot-1", json{{"warmup_url", url}}).code() == "bot_busy");
    CHECK(x(f, "POST",
            "/v1/calls/" + std::to_string(admitted.body["call"]["id"].get<int64_t>()) + "/end")
              .body["call"]["bot_id"] == "bot-1");
    CHECK(x(f, "DELETE", "/v1/bots/shared-1").status == 204);
    CHECK(x(f, "DELETE", "/v1/bots/shared-1").code() == "bot_not_found");

    CHECK(x(f, "DELETE", scheduleUrl).status == 204);
    CHECK(x(f, "DELETE", scheduleUrl).code() == "schedule_not_found");
    CHECK(x(f, "DELETE", "/v1/clients/botco/schedule/abc").code() == "schedule_not_found");
}

// Every exchange an open (no token) server gives for the endpoints and their
// errors.
void exerciseOpenServer(OpenApiFixture& f, Recorder& x) {
    CHECK(x(f, "GET", "/healthz").status == 200);
    CHECK(x(f, "GET", "/readyz").status == 200);
    CHECK(x(f, "GET", "/openapi.json").status == 200);

    // Clients and limits.
    CHECK(x(f, "PUT", "/v1/clients/acme", json{{"max_concurrent", 2}, {"name", "Acme"}}).status ==
          201);
    CHECK(x(f, "PUT", "/v1/clients/acme",
            json{{"max_concurrent", 2}, {"mode", "enforce"}, {"ring_timeout_s", 30}})
              .status == 200);
    CHECK(x(f, "PUT", "/v1/clients/obs", json{{"max_concurrent", 0}, {"mode", "observe"}}).status ==
          201);
    CHECK(x(f, "PUT", "/v1/clients/off", json{{"max_concurrent", 5}, {"enabled", false}}).status ==
          201);
    CHECK(x(f, "PUT", "/v1/clients/other", json{{"max_concurrent", 5}}).status == 201);
    CHECK(x(f, "PUT", "/v1/clients/bad%20id", json{{"max_concurrent", 1}}).code() ==
          "invalid_request");
    CHECK(x(f, "PUT", "/v1/clients/new", json::object()).code() == "invalid_request");
    CHECK(x(f, "PUT", "/v1/clients/acme", json{{"max_concurrent", "3"}}).code() ==
          "invalid_request");
    CHECK(x.raw(f, "PUT", "/v1/clients/acme", "{nope").code() == "malformed_json");
    CHECK(x.raw(f, "PUT", "/v1/clients/acme", "max_concurrent=3", "text/plain").code() ==
          "unsupported_media_type");
    CHECK(x(f, "GET", "/v1/clients").status == 200);
    CHECK(x(f, "GET", "/v1/clients/acme").status == 200);
    CHECK(x(f, "GET", "/v1/clients/nobody").code() == "unknown_client");
    CHECK(x(f, "PUT", "/v1/limits/global", json{{"max_concurrent", 10}}).status == 200);
    CHECK(x(f, "PUT", "/v1/limits/global", json{{"max_concurrent", -1}}).code() ==
          "invalid_request");
    CHECK(x(f, "PUT", "/v1/limits/global", json::object()).code() == "invalid_request");
    CHECK(x(f, "GET", "/v1/limits/global").status == 200);

    // Admission: admitted, existing, observe mode, every refusal.
    const auto first = admittedId(x(f, "POST", "/v1/calls",
                                    json{{"client_id", "acme"},
                                         {"external_id", "CA1"},
                                         {"provider", "twilio"},
                                         {"metadata", {{"campaign", "spring"}, {"n", 1}}}}));
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "acme"}, {"external_id", "CA1"}}).status ==
          200);
    const auto second = admittedId(x(f, "POST", "/v1/calls", json{{"client_id", "acme"}}));
    auto refused = x(f, "POST", "/v1/calls", json{{"client_id", "acme"}});
    CHECK(refused.status == 429);
    CHECK(refused.code() == "client_limit_reached");
    CHECK(refused.header("Retry-After") == "1");
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "off"}}).code() == "client_disabled");
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "ghost"}}).code() == "unknown_client");
    auto observed = x(f, "POST", "/v1/calls", json{{"client_id", "obs"}, {"metadata", nullptr}});
    CHECK(observed.status == 201);
    CHECK(observed.body["call"]["would_refuse"] == "client_limit_reached");
    CHECK(x(f, "PUT", "/v1/limits/global", json{{"max_concurrent", 2}}).status == 200);
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "other"}}).code() == "global_limit_reached");
    CHECK(x(f, "PUT", "/v1/limits/global", json{{"max_concurrent", 10}}).status == 200);
    CHECK(x.raw(f, "POST", "/v1/calls", "{not json").code() == "malformed_json");
    CHECK(x.raw(f, "POST", "/v1/calls", "[1, 2]").code() == "malformed_json");
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", 7}}).code() == "invalid_request");
    CHECK(x(f, "POST", "/v1/calls", json::object()).code() == "invalid_request");
    CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "acme"}, {"external_id", ""}}).code() ==
          "invalid_request");
    CHECK(x.raw(f, "POST", "/v1/calls", "client_id=acme", "application/x-www-form-urlencoded")
              .code() == "unsupported_media_type");
    CHECK(x.raw(f, "POST", "/v1/calls", std::string(70 * 1024, 'x')).code() == "payload_too_large");

    // Batches: per-item results in one 200; a malformed batch is a 400.
    auto batch = x(f, "POST", "/v1/calls:batch",
                   json{{"items", json::array({{{"op", "admit"}, {"client_id", "acme"}},
                                               {{"op", "end"}, {"call_id", 999999}}})}});
    CHECK(batch.status == 200);
    CHECK(batch.body["results"].size() == 2);
    CHECK(x(f, "POST", "/v1/calls:batch", json{{"items", 3}}).code() == "invalid_request");

    // Reading and listing calls.
    const std::string base = "/v1/calls/" + std::to_string(first);
    CHECK(x(f, "GET", base).status == 200);
    CHECK(x(f, "GET", "/v1/calls/999999").code() == "call_not_found");
    CHECK(x(f, "GET", "/v1/calls/not-a-number").code() == "call_not_found");
    auto page = x(f, "GET", "/v1/calls?client_id=acme&state=all&limit=1");
    CHECK(page.status == 200);
    CHECK(page.body["next_cursor"].is_string());
    CHECK(x(f, "GET",
            "/v1/calls?state=all&limit=1&cursor=" + page.body["next_cursor"].get<std::string>())
              .status == 200);
    CHECK(x(f, "GET", "/v1/calls").status == 200);
    CHECK(x(f, "GET", "/v1/calls?state=ended").status == 200);
    CHECK(x(f, "GET", "/v1/calls?state=sideways").code() == "invalid_request");
    CHECK(x(f, "GET", "/v1/calls?limit=0").code() == "invalid_request");
    CHECK(x(f, "GET", "/v1/calls?cursor=abc").code() == "invalid_request");

    // The lifecycle: every event outcome the API gives, and its errors.
    CHECK(x(f, "POST", base + "/events", json{{"status", "ringing"}, {"sequence", 1}})
              .body["outcome"] == "applied");
    CHECK(x(f, "POST", base + "/events", json{{"status", "ringing"}, {"sequence", 1}})
              .body["outcome"] == "duplicate");
    CHECK(x(f, "POST", base + "/events",
            json{{"status", "in_progress"},
                 {"occurred_at", "2026-01-31T12:00:00Z"},
                 {"event_id", "evt-1"}})
              .body["outcome"] == "applied");
    CHECK(x(f, "POST", base + "/events", json{{"status", "initiated"}}).body["outcome"] ==
          "out_of_order");
    CHECK(x(f, "POST", base + "/events", json{{"status", "completed"}, {"expected_version", 1}})
              .code() == "conflict");
    CHECK(x(f, "POST", base + "/events", json{{"status", "exploded"}}).code() == "invalid_request");
    CHECK(x(f, "POST", base + "/events", json{{"status", "busy"}, {"occurred_at", "yesterday"}})
              .code() == "invalid_request");
    CHECK(x.raw(f, "POST", base + "/events", "{").code() == "malformed_json");
    CHECK(x.raw(f, "POST", base + "/events", "status=busy", "text/plain").code() ==
          "unsupported_media_type");
    CHECK(x(f, "POST", "/v1/calls/999999/events", json{{"status", "ringing"}}).code() ==
          "call_not_found");
    CHECK(x(f, "POST", base + "/heartbeat").body["outcome"] == "applied");
    CHECK(x(f, "POST", base + "/heartbeat", json::object()).status == 200);
    CHECK(x.raw(f, "POST", base + "/heartbeat", "beat", "text/plain").code() ==
          "unsupported_media_type");
    CHECK(x(f, "POST", "/v1/calls/999999/heartbeat").code() == "call_not_found");
    CHECK(x(f, "POST", base + "/end", json{{"reason", "hung up"}}).body["outcome"] == "applied");
    CHECK(x(f, "POST", base + "/end").body["outcome"] == "after_end");
    CHECK(x(f, "POST", base + "/events", json{{"status", "busy"}}).body["outcome"] == "after_end");
    CHECK(x(f, "POST", base + "/heartbeat").body["outcome"] == "after_end");
    const std::string other = "/v1/calls/" + std::to_string(second);
    CHECK(x(f, "POST", other + "/end", json{{"expected_version", 99}}).code() == "conflict");
    CHECK(x(f, "POST", other + "/end", json{{"reason", 5}}).code() == "invalid_request");
    CHECK(x(f, "POST", other + "/end").body["outcome"] == "applied");
    CHECK(x(f, "POST", "/v1/calls/999999/end").code() == "call_not_found");

    CHECK(x(f, "GET", "/v1/usage").status == 200);

    // Provider webhooks: what can be reached without provider credentials.
    CHECK(x(f, "POST", "/v1/webhooks/twilio", json{{"CallSid", "CA1"}}).code() ==
          "unsupported_media_type");
    CHECK(x.raw(f, "POST", "/v1/webhooks/twilio", "CallSid=CA1&CallStatus=ringing&AccountSid=AC0",
                "application/x-www-form-urlencoded", {{"X-Twilio-Signature", "bm9wZQ=="}})
              .code() == "invalid_signature");
    CHECK(
        x.raw(f, "POST", "/v1/webhooks/twilio", "CallSid=%zz", "application/x-www-form-urlencoded")
            .code() == "malformed_form");
    CHECK(x(f, "POST", "/v1/webhooks/generic",
            json{{"client_id", "acme"}, {"external_id", "CA1"}, {"status", "ringing"}})
              .code() == "invalid_signature");
    CHECK(x.raw(f, "POST", "/v1/webhooks/generic", "{").code() == "malformed_json");
    CHECK(x(f, "POST", "/v1/webhooks/generic", json{{"status", "ringing"}}).code() ==
          "invalid_request");

    // Provider credentials, then callbacks signed by the providers' own npm
    // packages (tests/NodeSigner.h).
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    CHECK(x(f, "PUT", "/v1/clients/acme",
            json{{"twilio", {{"account_sid", "AC123"}, {"auth_token", "twilio-token"}}},
                 {"webhook_secret", secret}})
              .status == 200);
    // Several clients may share one Twilio account (issue 8 §2).
    CHECK(x(f, "PUT", "/v1/clients/other",
            json{{"twilio", {{"account_sid", "AC123"}, {"auth_token", "twilio-token"}}}})
              .status == 200);
    CHECK(x(f, "PUT", "/v1/clients/other",
            json{{"twilio",
                  {{"account_sid", "AC123"}, {"auth_token", "t"}, {"voice_url", "ftp://x"}}}})
              .code() == "invalid_request");
    CHECK(x(f, "PUT", "/v1/clients/other",
            json{{"twilio", {{"account_sid", "AC123"}, {"auth_token", "t"}, {"sid", "x"}}}})
              .code() == "unknown_field");
    CHECK(x(f, "PUT", "/v1/clients/other", json{{"max_concurent", 4}}).code() == "unknown_field");
    CHECK(x(f, "PUT", "/v1/clients/other", json{{"twilio", "AC123"}}).code() == "invalid_request");
    CHECK(x(f, "PUT", "/v1/clients/other", json{{"webhook_secret", "plain"}}).code() ==
          "invalid_request");
    const std::string twilioUrl =
        "http://127.0.0.1:" + std::to_string(f.server->port()) + "/v1/webhooks/twilio";
    const std::vector<std::vector<std::pair<std::string, std::string>>> callbacks = {
        {{"AccountSid", "AC123"},
         {"CallSid", "CA1"},
         {"CallStatus", "completed"},
         {"SequenceNumber", "3"},
         {"Timestamp", "Tue, 21 Nov 2026 15:04:05 +0000"}},
        {{"AccountSid", "AC123"}, {"CallSid", "CA-early"}, {"CallStatus", "no-answer"}},
        {{"AccountSid", "AC123"}, {"CallSid", "CA-unknown"}, {"CallStatus", "ringing"}},
        {{"AccountSid", "AC123"}, {"CallSid", "CA1"}, {"CallStatus", "exploded"}},
    };
    const int64_t now = f.t.clock.nowMs() / 1000;
    const std::string genericBody = json{
        {"client_id", "acme"},
        {"external_id", "CA2"},
        {"status", "ringing"},
        {"sequence", 1}}.dump();
    json toSign = json::array();
    for (const auto& params : callbacks) {
        json object = json::object();
        for (const auto& [k, v] : params) object[k] = v;
        toSign.push_back({{"kind", "twilio"},
                          {"authToken", "twilio-token"},
                          {"url", twilioUrl},
                          {"params", object}});
    }
    toSign.push_back({{"kind", "standard"},
                      {"secret", secret},
                      {"id", "msg_1"},
                      {"timestamp", now},
                      {"body", genericBody}});
    const auto signatures = test::NodeSigner::sign(toSign);
    REQUIRE(signatures.size() == callbacks.size() + 1);
    const char* form = "application/x-www-form-urlencoded";
    auto twilio = [&](size_t i) {
        return x.raw(f, "POST", "/v1/webhooks/twilio", formEncode(callbacks[i]), form,
                     {{"X-Twilio-Signature", signatures[i]}});
    };
    const auto ended = twilio(0);
    INFO(ended.body.dump());
    CHECK(ended.body["outcome"] == "duplicate");  // ended as completed already
    auto early = twilio(1);
    CHECK(early.body["outcome"] == "unknown_call");  // kept for the admission
    CHECK(early.body["call"].is_null());
    auto unknown = twilio(2);
    CHECK(unknown.body["outcome"] == "unknown_call");
    CHECK(unknown.body["call"].is_null());
    CHECK(twilio(3).code() == "invalid_request");
    const httplib::Headers standard = {{"webhook-id", "msg_1"},
                                       {"webhook-timestamp", std::to_string(now)},
                                       {"webhook-signature", signatures.back()}};
    CHECK(x.raw(f, "POST", "/v1/webhooks/generic", genericBody, "application/json", standard)
              .body["outcome"] == "unknown_call");
    CHECK(x.raw(f, "POST", "/v1/webhooks/generic", genericBody, "application/json", standard)
              .body["outcome"] == "duplicate");
    CHECK(x(f, "GET", "/v1/clients/acme").body["client"]["webhook_secret_set"] == true);

    exerciseBots(f, x);
    exerciseProviderFlows(f, x);

    // Not endpoints, or not with this method.
    CHECK(x(f, "GET", "/v1/nothing-here").code() == "not_found");
    auto wrongMethod = x(f, "DELETE", "/v1/calls");
    CHECK(wrongMethod.code() == "method_not_allowed");
    CHECK(wrongMethod.header("Allow").find("POST") != std::string::npos);
    CHECK(x(f, "PATCH", "/v1/clients/acme", json{{"max_concurrent", 1}}).code() ==
          "method_not_allowed");
    CHECK(x(f, "POST", "/healthz").code() == "method_not_allowed");
    CHECK(x.record("GARBAGE", "*", rawExchange(f.server->port(), "GARBAGE\r\n\r\n")).code() ==
          "malformed_request");
}

}  // namespace

TEST_CASE("api/openapi.json is a valid OpenAPI document (swagger-parser)") {
    requireNpmTools();
    const auto r =
        runCommand("node " + quoted(kNpmDir + "/validate-openapi.mjs") + " " + quoted(kDocFile));
    INFO(r.output);
    CHECK(r.exitCode == 0);
}

TEST_CASE("the live responses match the document's schemas") {
    requireNpmTools();
    test::TempDir dir;
    json doc;
    std::unique_ptr<Recorder> recorder;
    {
        OpenApiFixture f;
        doc = liveDoc(f);
        // The served document is the one in the source tree (compiled in).
        const bool same = doc == readJsonFile(kDocFile);
        CHECK_MESSAGE(same, "GET /openapi.json differs from api/openapi.json: rebuild");
        recorder = std::make_unique<Recorder>(doc);
        exerciseOpenServer(f, *recorder);
    }
    Recorder& x = *recorder;

    {
        // With a token configured: 401 before routing; health and the document stay open.
        OpenApiFixture f("s3cret-token");
        f.client = std::make_unique<httplib::Client>("127.0.0.1", f.server->port());
        auto anonymous = x(f, "GET", "/v1/usage");
        CHECK(anonymous.code() == "unauthorized");
        CHECK(anonymous.header("WWW-Authenticate") == "Bearer");
        CHECK(x(f, "POST", "/v1/calls", json{{"client_id", "acme"}}).code() == "unauthorized");
        CHECK(x(f, "GET", "/v1/nothing-here").code() == "unauthorized");
        CHECK(x(f, "GET", "/healthz").status == 200);
        CHECK(x(f, "GET", "/readyz").status == 200);
        CHECK(x(f, "GET", "/openapi.json").status == 200);
        CHECK(x(f, "GET", "/dashboard").status == 200);  // the page is open; its data is not
        f.client->set_bearer_token_auth("wrong-token");
        CHECK(x(f, "GET", "/v1/clients").code() == "unauthorized");
        f.client->set_bearer_token_auth("s3cret-token");
        CHECK(x(f, "GET", "/v1/usage").status == 200);
        // Monitoring: the exposition, history and capacity, and their errors.
        CHECK(x(f, "GET", "/metrics").status == 200);
        CHECK(x(f, "GET", "/v1/usage/history").status == 200);
        CHECK(x(f, "GET", "/v1/usage/history?step=61").code() == "invalid_request");
        CHECK(x(f, "GET", "/v1/usage/history?client_id=nobody").code() == "unknown_client");
        CHECK(x(f, "GET", "/v1/capacity").status == 200);
        CHECK(x(f, "GET", "/v1/capacity?bogus=1").code() == "unknown_field");
        CHECK(x(f, "GET", "/v1/capacity?client_id=nobody").code() == "unknown_client");
        // Alerting: receivers, rules, alerts.
        const json receiver = {{"url", "http://127.0.0.1:9/hook"}, {"format", "alertmanager"}};
        CHECK(x(f, "PUT", "/v1/alert-receivers/ops", receiver).status == 201);
        CHECK(x(f, "PUT", "/v1/alert-receivers/ops", receiver).status == 200);
        CHECK(x(f, "PUT", "/v1/alert-receivers/sw",
                json{{"url", "http://127.0.0.1:9/hook"}, {"format", "standard-webhooks"}})
                  .code() == "invalid_request");  // needs a secret
        CHECK(x(f, "GET", "/v1/alert-receivers/ops").body["receiver"]["secret_set"] == false);
        CHECK(x(f, "GET", "/v1/alert-receivers").status == 200);
        CHECK(x(f, "DELETE", "/v1/alert-receivers/ops").status == 204);
        CHECK(x(f, "GET", "/v1/alert-receivers/ops").code() == "unknown_alert_receiver");
        CHECK(x(f, "DELETE", "/v1/alert-receivers/ops").code() == "unknown_alert_receiver");
        const json rule = {
            {"kind", "client_utilization"}, {"fire_at", 0.9}, {"clear_at", 0.7}, {"for_s", 30}};
        CHECK(x(f, "PUT", "/v1/alert-rules/hot", rule).status == 201);
        CHECK(x(f, "PUT", "/v1/alert-rules/hot", rule).status == 200);
        CHECK(x(f, "PUT", "/v1/alert-rules/bad",
                json{{"kind", "client_utilization"},
                     {"fire_at", 0.5},
                     {"clear_at", 0.7},
                     {"for_s", 30}})
                  .code() == "invalid_request");
        CHECK(x(f, "PUT", "/v1/alert-rules/bad", json{{"kind", "cpu"}}).code() ==
              "invalid_request");
        CHECK(x(f, "PUT", "/v1/alert-rules/hot", json{{"kind", "client_utilization"}, {"bogus", 1}})
                  .code() == "unknown_field");
        json forNobody = rule;
        forNobody["client_id"] = "nobody";
        CHECK(x(f, "PUT", "/v1/alert-rules/mine", forNobody).code() == "unknown_client");
        CHECK(x(f, "GET", "/v1/alert-rules/hot").body["rule"]["alertname"] ==
              "CalltrackClientUtilizationHigh");
        CHECK(x(f, "GET", "/v1/alert-rules").body["rules"].size() == 7);  // 6 defaults + hot
        CHECK(x(f, "DELETE", "/v1/alert-rules/hot").status == 204);
        CHECK(x(f, "GET", "/v1/alert-rules/hot").code() == "unknown_alert_rule");
        CHECK(x(f, "DELETE", "/v1/alert-rules/hot").code() == "unknown_alert_rule");
        CHECK(x(f, "GET", "/v1/alerts").status == 200);
        CHECK(x(f, "GET", "/v1/alerts?state=firing").status == 200);
        CHECK(x(f, "GET", "/v1/alerts?state=bogus").code() == "invalid_request");

        // A client token: bots are configured by the admin only, and other
        // clients' warm pools do not exist for it.
        CHECK(x(f, "PUT", "/v1/clients/mine", json{{"max_concurrent", 1}}).status == 201);
        const auto token = db::ApiTokens::create(f.t.database->writer(), f.t.clock,
                                                 std::string("mine"), std::nullopt);
        f.client->set_bearer_token_auth(token.secret);
        CHECK(x(f, "PUT", "/v1/bots/b1", json{{"warmup_url", "http://127.0.0.1:9/"}}).code() ==
              "forbidden");
        CHECK(x(f, "DELETE", "/v1/bots/b1").code() == "forbidden");
        CHECK(x(f, "GET", "/v1/clients/mine/warm-pool").status == 200);
        CHECK(x(f, "GET", "/v1/clients/acme/warm-pool").code() == "unknown_client");
        CHECK(x(f, "GET", "/metrics").code() == "forbidden");
        CHECK(x(f, "PUT", "/v1/alert-rules/x",
                json{{"kind", "client_utilization"},
                     {"fire_at", 0.9},
                     {"clear_at", 0.7},
                     {"for_s", 30}})
                  .code() == "forbidden");
        CHECK(x(f, "GET", "/v1/alert-rules").code() == "forbidden");
        CHECK(x(f, "GET", "/v1/alert-rules/x").code() == "forbidden");
        CHECK(x(f, "DELETE", "/v1/alert-rules/x").code() == "forbidden");
        CHECK(x(f, "PUT", "/v1/alert-receivers/x", json{{"url", "http://127.0.0.1:9/"}}).code() ==
              "forbidden");
        CHECK(x(f, "GET", "/v1/alert-receivers").code() == "forbidden");
        CHECK(x(f, "GET", "/v1/alert-receivers/x").code() == "forbidden");
        CHECK(x(f, "DELETE", "/v1/alert-receivers/x").code() == "forbidden");
        CHECK(x(f, "GET", "/v1/alerts").body["alerts"].is_array());
        CHECK(x(f, "GET", "/v1/usage/history").body["client_id"] == "mine");
        CHECK(x(f, "GET", "/v1/capacity").body["clients"].size() == 1);
    }

    {
        // Another connection holds the write lock past the busy timeout:
        // admissions answer 503 database_unavailable, events 202 spooled,
        // /readyz 200 degraded (the spool works); a write while the breaker
        // is open is database_unavailable at once.
        db::DatabaseOptions options;
        options.busyTimeoutMs = 100;
        OpenApiFixture f(std::nullopt, options, std::chrono::milliseconds(300));
        CHECK(x(f, "PUT", "/v1/clients/acme", json{{"max_concurrent", 1}}).status == 201);
        const int64_t id =
            x(f, "POST", "/v1/calls", json{{"client_id", "acme"}}).body["call"]["id"];
        SQLite::Database holder(f.t.options.path, SQLite::OPEN_READWRITE);
        holder.exec("BEGIN IMMEDIATE");
        auto busy = x(f, "POST", "/v1/calls", json{{"client_id", "acme"}});
        CHECK(busy.status == 503);
        CHECK(busy.code() == "database_unavailable");
        CHECK(busy.body["reason"] == "locked");
        CHECK_FALSE(busy.header("Retry-After").empty());
        auto spooled = x(f, "POST", "/v1/calls/" + std::to_string(id) + "/end", json::object());
        CHECK(spooled.status == 202);
        CHECK(spooled.body["outcome"] == "spooled");
        auto degraded = x(f, "GET", "/readyz");
        CHECK(degraded.status == 200);
        CHECK(degraded.body["status"] == "degraded");
        holder.exec("ROLLBACK");
        CHECK(x(f, "GET", "/readyz").status == 200);
    }

    const auto missing = x.unexercised();
    CHECK_MESSAGE(missing.empty(),
                  "documented operations this test never called: " << json(missing).dump());

    const std::string file = dir.file("exchanges.jsonl");
    x.write(file);
    const auto r = runCommand("node " + quoted(kNpmDir + "/check-responses.mjs") + " " +
                              quoted(kDocFile) + " " + quoted(file));
    INFO(r.output);
    CHECK(r.exitCode == 0);
    MESSAGE(r.output);
}

TEST_CASE("the document and the router have the same routes") {
    requireNpmTools();
    OpenApiFixture f;
    const json doc = liveDoc(f);
    const std::set<std::string> verbs = {"GET", "POST", "PUT", "DELETE", "PATCH"};

    std::set<std::string> documented;  // "METHOD /template/{}"
    for (const auto& [path, item] : doc["paths"].items()) {
        std::set<std::string> methods;
        for (const auto& [method, op] : item.items()) {
            if (!op.is_object() || !op.contains("responses")) continue;
            std::string upper = method;
            for (auto& ch : upper)
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            methods.insert(upper);
            documented.insert(upper + " " + anonymousTemplate(path));
        }
        // A concrete path: client ids and call ids both take "1".
        const std::string concrete = filledTemplate(path, "1");
        for (const auto& verb : verbs) {
            const auto ex = f.send(verb, concrete, verb == "GET" ? "" : "{}");
            INFO(verb << " " << concrete << " -> " << ex.status << " " << ex.body.dump());
            if (methods.count(verb)) {
                CHECK_MESSAGE(ex.code() != "not_found", "documented but not routed");
                CHECK(ex.code() != "method_not_allowed");
            } else {
                CHECK_MESSAGE(ex.code() == "method_not_allowed",
                              "routed (or missing) but not documented with this method");
            }
        }
    }

    // Every router.add(...) in the route sources is documented.
    std::set<std::string> routed;
    size_t calls = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(kSource + "/api")) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".cpp" || name == "Router.cpp") continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        const std::string source = text.str();
        // router.add("METHOD", "pattern", ...): two string literals.
        static const std::string kAdd = "router.add(";
        for (auto at = source.find(kAdd); at != std::string::npos; at = source.find(kAdd, at + 1)) {
            ++calls;
            size_t pos = at + kAdd.size();
            auto literal = [&]() -> std::optional<std::string> {
                while (pos < source.size() && std::isspace(static_cast<unsigned char>(source[pos])))
                    ++pos;
                if (pos >= source.size() || source[pos] != '"') return std::nullopt;
                const auto close = source.find('"', pos + 1);
                if (close == std::string::npos) return std::nullopt;
                auto text = source.substr(pos + 1, close - pos - 1);
                pos = close + 1;
                while (pos < source.size() && std::isspace(static_cast<unsigned char>(source[pos])))
                    ++pos;
                if (pos < source.size() && source[pos] == ',') ++pos;
                return text;
            };
            const auto method = literal();
            const auto pattern = method ? literal() : std::nullopt;
            if (method && pattern) routed.insert(*method + " " + anonymousTemplate(*pattern));
        }
    }
    INFO("routes in api/**/*.cpp: " << json(routed).dump());
    INFO("documented: " << json(documented).dump());
    CHECK(routed.size() >= 15);
    CHECK_MESSAGE(calls == routed.size(),
                  "a router.add(...) with a method or pattern that is not a string literal (or "
                  "a duplicate route): this test cannot check it");
    for (const auto& route : routed) CHECK_MESSAGE(documented.count(route), route);
    for (const auto& op : documented) CHECK_MESSAGE(routed.count(op), op);
}
