// GET /dashboard in a real headless browser (Debian's chromium, driven by the
// pinned npm puppeteer-core: tests/npm/dashboard-check.mjs) against a real
// `calltrack serve` after a scripted load: the page loads without console
// errors, shows the numbers the API has, a client token sees only its
// client, a firing alert appears, and the token never goes into a URL the
// server sees. The screenshot is written to build*/tests/dashboard.png.

#include "db/storage/Database.h"
#include "db/tenants/ApiTokens.h"
#include "db/tenants/ClientRegistry.h"
#include "tests/ServeProcess.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

using namespace calltrack;

TEST_CASE("the dashboard in a headless browser shows what the API has, scoped by token") {
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"),
                    "chromium missing: scripts/install-deps installs it");
    const std::string npm = std::string(CALLTRACK_SOURCE_DIR) + "/tests/npm";
    REQUIRE_MESSAGE(std::filesystem::exists(npm + "/node_modules/puppeteer-core"),
                    "run npm ci --prefix tests/npm");
    // Tokens in the database before serve starts (so its API is closed):
    // an admin token and one of client acme.
    test::TempDir dir;
    const std::string path = dir.file("dash.db");
    std::string admin, clientToken;
    {
        db::DatabaseOptions o;
        o.path = path;
        o.createIfMissing = true;
        db::Database database(o);
        db::SystemClock clock;
        db::ClientRegistry clients(database.writer(), database.readers(), clock);
        db::ClientPatch acme;
        acme.maxConcurrent = 4;
        clients.create("acme", acme);
        admin = db::ApiTokens::create(database.writer(), clock, std::nullopt, std::nullopt).secret;
        clientToken =
            db::ApiTokens::create(database.writer(), clock, std::string("acme"), std::nullopt)
                .secret;
    }
    test::ServeProcess serve(path, {});
    httplib::Client api("127.0.0.1", serve.port());
    api.set_bearer_token_auth(admin);
    const auto put = [&](const std::string& path, const nlohmann::json& body) {
        auto r = api.Put(path, body.dump(), "application/json");
        REQUIRE(r);
        return r->status;
    };
    REQUIRE(put("/v1/clients/acme", {{"max_concurrent", 4}}) == 200);
    REQUIRE(put("/v1/clients/beta", {{"max_concurrent", 10}}) == 201);
    for (const auto& [client, n] : {std::pair{"acme", 3}, std::pair{"beta", 1}}) {
        for (int i = 0; i < n; ++i) {
            auto r = api.Post("/v1/calls", nlohmann::json{{"client_id", client}}.dump(),
                              "application/json");
            REQUIRE(r);
            REQUIRE(r->status == 201);
        }
    }
    REQUIRE(put("/v1/alert-rules/acme-busy", {{"kind", "client_utilization"},
                                              {"client_id", "acme"},
                                              {"fire_at", 0.5},
                                              {"clear_at", 0.25},
                                              {"for_s", 0}}) == 201);
    // The alert fires within a tick or two.
    std::string fingerprint;
    for (int i = 0; i < 100 && fingerprint.empty(); ++i) {
        auto r = api.Get("/v1/alerts?state=firing");
        REQUIRE(r);
        const auto alerts = nlohmann::json::parse(r->body)["alerts"];
        if (!alerts.empty()) fingerprint = alerts[0]["fingerprint"];
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE_FALSE(fingerprint.empty());

    const std::string shot = std::filesystem::current_path() / "dashboard.png";
    const std::string command =
        "node " + npm + "/dashboard-check.mjs http://127.0.0.1:" + std::to_string(serve.port()) +
        " " + admin + " " + clientToken + " " + shot + " 2>&1";
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = ::pclose(pipe);
    INFO(out);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    const auto seen = nlohmann::json::parse(out);

    CHECK(seen["consoleErrors"].empty());
    CHECK(seen["requestsWithToken"].empty());  // the fragment never reaches the server
    const auto& a = seen["admin"];
    CHECK(a["url"].get<std::string>().find("token") == std::string::npos);  // fragment dropped
    CHECK(a["stored"] == true);
    CHECK(a["scope"] == "admin");
    CHECK(a["rows"]["GLOBAL"] == "4 / 100");
    CHECK(a["rows"]["acme"] == "3 / 4");
    CHECK(a["rows"]["beta"] == "1 / 10");
    CHECK(a["calls"] == 4);
    CHECK(a["alerts"] == nlohmann::json::array({fingerprint}));
    CHECK(a["status"] == "ready");
    const auto& c = seen["client"];
    CHECK(c["rows"].size() == 1);  // its own client, no GLOBAL
    CHECK(c["rows"]["acme"] == "3 / 4");
    CHECK(c["calls"] == 3);
    CHECK(c["alerts"] == nlohmann::json::array({fingerprint}));  // acme's alert
    CHECK(std::filesystem::file_size(shot) > 10000);
    // No request the server logged carried the token in its URL.
    CHECK(serve.stderrLog().find(clientToken) == std::string::npos);
    CHECK(serve.stderrLog().find(admin) == std::string::npos);
}
