#pragma once
// The real HttpServer on an ephemeral loopback port over a fresh test
// database (ManualClock), with a cpp-httplib client pointed at it.

#include "api/http/HttpServer.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "tests/TestDatabase.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace calltrack::test {

struct ApiFixture {
    explicit ApiFixture(std::optional<std::string> adminToken = std::nullopt,
                        std::string publicUrl = "", int threads = 4,
                        std::chrono::milliseconds requestDeadline = std::chrono::seconds(2),
                        bool fullDurability = false)
        : t(db::DatabaseOptions{}, fullDurability) {
        ctx.publicUrl = std::move(publicUrl);
        ctx.requestDeadline = requestDeadline;
        api::HttpOptions options;
        options.port = 0;
        options.threads = threads;
        options.adminToken = adminToken;
        server = std::make_unique<api::HttpServer>(ctx, options);
        server->start();
        client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
        if (adminToken) client->set_bearer_token_auth(*adminToken);
    }

    httplib::Result send(const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::string& type = "application/json") {
        if (method == "GET") return client->Get(path);
        if (method == "DELETE") return client->Delete(path);
        if (method == "PUT") return client->Put(path, body, type);
        if (method == "PATCH") return client->Patch(path, body, type);
        return client->Post(path, body, type);
    }

    // Status and parsed body; every response must be JSON with a request id.
    std::pair<int, nlohmann::json> call(const std::string& method, const std::string& path,
                                        const nlohmann::json& body = nullptr) {
        auto res = send(method, path, body.is_null() ? "" : body.dump());
        REQUIRE(res);
        CHECK(res->get_header_value("Content-Type") == "application/json");
        CHECK_FALSE(res->get_header_value("X-Request-Id").empty());
        return {res->status, nlohmann::json::parse(res->body)};
    }

    TestDatabase t;
    db::BotRegistry bots{t.database->writer(), t.database->readers(), t.clock};
    db::DemandSchedules schedules{t.database->writer(), t.database->readers(), t.clock};
    db::ProviderCallEvents providerEvents{t.database->writer(), t.clock};
    api::JsonLog log{api::LogLevel::error, stderr};
    api::ApiContext ctx{*t.database,
                        *t.admission,
                        *t.lifecycle,
                        *t.clients,
                        bots,
                        schedules,
                        providerEvents,
                        *t.intake,
                        t.clock,
                        log,
                        std::chrono::milliseconds(2000)};
    std::unique_ptr<api::HttpServer> server;
    std::unique_ptr<httplib::Client> client;
};

inline void checkErrorShape(const nlohmann::json& body, const std::string& code) {
    REQUIRE(body.contains("error"));
    CHECK(body["error"]["code"] == code);
    CHECK(body["error"]["message"].is_string());
    CHECK(body["error"]["request_id"].is_string());
}

}  // namespace calltrack::test
