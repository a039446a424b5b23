// docs/nginx/calltrack.conf with Debian's nginx in front of the real
// `calltrack serve` (issue 9, section 1): signed Twilio callbacks verify
// through the proxy with --public-url, and trickling clients are absorbed by
// nginx instead of holding calltrack threads. The shipped file is used as
// is, but for its listen port and upstream address.

#include "tests/RawConnection.h"
#include "tests/ServeProcess.h"
#include "tests/TwilioSender.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace calltrack;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kNginx = "/usr/sbin/nginx";
const std::string kAccount = "AC00000000000000000000000000proxy";
const std::string kToken = "proxy-account-token";

void replaceOnce(std::string& text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos,
                    "docs/nginx/calltrack.conf no longer has the line `" << from << "`");
    text.replace(at, from.size(), to);
}

// nginx in the foreground with its own prefix, pid file and temp paths in a
// temporary directory, serving docs/nginx/calltrack.conf on `port` in front
// of calltrack on `upstreamPort`.
class Nginx {
  public:
    Nginx(int port, int upstreamPort) : port_(port) {
        REQUIRE_MESSAGE(::access(kNginx, X_OK) == 0,
                        "nginx is missing: scripts/install-deps installs Debian's nginx-light");
        std::string site =
            test::slurp(std::string(CALLTRACK_SOURCE_DIR) + "/docs/nginx/calltrack.conf");
        replaceOnce(site, "server 127.0.0.1:8080;",
                    "server 127.0.0.1:" + std::to_string(upstreamPort) + ";");
        replaceOnce(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(port) + ";");
        const std::string d = dir_.file("");
        std::ofstream(dir_.file("calltrack.conf")) << site;
        std::ofstream(dir_.file("nginx.conf"))
            << "user root;\nworker_processes 1;\nerror_log " << d << "error.log warn;\npid " << d
            << "nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n"
            << "  client_body_temp_path " << d << "body;\n  proxy_temp_path " << d << "proxy;\n"
            << "  fastcgi_temp_path " << d << "fastcgi;\n  uwsgi_temp_path " << d << "uwsgi;\n"
            << "  scgi_temp_path " << d << "scgi;\n  include " << d << "calltrack.conf;\n}\n";
        std::vector<std::string> args{kNginx, "-p",         d, "-c", dir_.file("nginx.conf"),
                                      "-g",   "daemon off;"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, dir_.file("stdout").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, dir_.file("stderr").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE(posix_spawn(&pid_, kNginx, &actions, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
        // Up once it answers (calltrack's /healthz through it).
        httplib::Client probe("127.0.0.1", port_);
        probe.set_connection_timeout(std::chrono::milliseconds(200));
        const auto until = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < until) {
            if (auto res = probe.Get("/healthz"); res && res->status == 200) return;
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        FAIL("nginx did not come up: " << test::slurp(dir_.file("stderr"))
                                       << test::slurp(dir_.file("error.log")));
    }
    ~Nginx() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            if (!test::waitExit(pid_, std::chrono::seconds(5))) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
        }
    }
    Nginx(const Nginx&) = delete;
    Nginx& operator=(const Nginx&) = delete;

  private:
    test::TempDir dir_;
    int port_;
    pid_t pid_ = -1;
};

json callback(const std::string& callSid, const std::string& status, int sequence) {
    return {{"AccountSid", kAccount},
            {"CallSid", callSid},
            {"CallStatus", status},
            {"ApiVersion", "2010-04-01"},
            {"SequenceNumber", std::to_string(sequence)},
            {"Direction", "outbound-api"}};
}

}  // namespace

TEST_CASE("behind docs/nginx/calltrack.conf: signed Twilio callbacks verify with --public-url") {
    const int proxyPort = test::freePort();
    const std::string publicUrl = "http://127.0.0.1:" + std::to_string(proxyPort);
    test::ServeProcess server({"--public-url", publicUrl});
    Nginx nginx(proxyPort, server.port());
    httplib::Client proxy("127.0.0.1", proxyPort);
    proxy.set_read_timeout(std::chrono::seconds(5));

    auto put = proxy.Put(
        "/v1/clients/dialer",
        json{{"max_concurrent", 5}, {"twilio", {{"account_sid", kAccount}, {"auth_token", kToken}}}}
            .dump(),
        "application/json");
    REQUIRE(put);
    REQUIRE(put->status == 201);
    auto admitted = proxy.Post("/v1/calls", R"({"client_id": "dialer"})", "application/json");
    REQUIRE(admitted);
    REQUIRE(admitted->status == 201);
    const auto id = json::parse(admitted->body)["call"]["id"].get<int64_t>();
    const std::string path = "/v1/webhooks/twilio?call_id=" + std::to_string(id);
    const std::string sid = "CA0000000000000000000000000000prox";

    // Signed for the URL the provider used (nginx's), delivered through it.
    const auto requests = test::signTwilioRequests(publicUrl, kToken,
                                                   {{path, callback(sid, "ringing", 1)},
                                                    {path, callback(sid, "in-progress", 2)},
                                                    {path, callback(sid, "completed", 3)}});
    for (const auto& r : requests) {
        auto res = test::postTwilio(proxy, r);
        REQUIRE(res);
        INFO(res->body);
        CHECK(res->status == 200);
        CHECK(json::parse(res->body)["outcome"] == "applied");
    }
    auto call = proxy.Get("/v1/calls/" + std::to_string(id));
    REQUIRE(call);
    CHECK(json::parse(call->body)["call"]["state"] == "completed");
    CHECK(json::parse(call->body)["call"]["provider_call_id"] == sid);

    // Signed for calltrack's own address instead: not what the provider
    // saw, so refused (and nothing written).
    const auto wrongUrl =
        test::signTwilioRequests("http://127.0.0.1:" + std::to_string(server.port()), kToken,
                                 {{path, callback(sid, "completed", 4)}});
    auto refused = test::postTwilio(proxy, wrongUrl[0]);
    REQUIRE(refused);
    CHECK(refused->status == 403);
    CHECK(json::parse(refused->body)["error"]["code"] == "invalid_signature");
}

TEST_CASE("behind docs/nginx/calltrack.conf: trickling clients hold nginx, not calltrack") {
    const int proxyPort = test::freePort();
    test::ServeProcess server;
    Nginx nginx(proxyPort, server.port());
    std::vector<std::unique_ptr<test::RawConnection>> slow;
    for (int i = 0; i < 64; ++i) {
        slow.push_back(std::make_unique<test::RawConnection>(proxyPort));
        REQUIRE(slow.back()->send(
            "POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{"));
    }
    for (int round = 0; round < 3; ++round) {
        for (auto& c : slow) c->send(" ");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    // Through nginx a fresh client is served, and calltrack itself holds
    // none of the 64 (nginx has not forwarded a byte of them).
    httplib::Client proxy("127.0.0.1", proxyPort);
    proxy.set_read_timeout(std::chrono::seconds(5));
    auto health = proxy.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    httplib::Client direct("127.0.0.1", server.port());
    auto usage = direct.Get("/v1/usage");
    REQUIRE(usage);
    const auto open = json::parse(usage->body)["connections"]["open"].get<int64_t>();
    INFO("calltrack connections open: " << open);
    CHECK(open < 16);
    SQLite::Database db(server.db(), SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("SELECT count(*) FROM calls").getInt() == 0);
}
