// Slow, idle and surplus connections against the real `calltrack serve`
// (issue 9, section 1). cpp-httplib keeps a worker per connection and bounds
// each socket read, not the request: before BoundedConnectionServer, 64
// connections trickling a byte at a time pinned the 64 workers and /healthz
// never answered. Every wait here is a liveness bound (the client's socket
// timeout), never a speed assertion.

#include "tests/RawConnection.h"
#include "tests/ServeProcess.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using nlohmann::json;
using test::RawConnection;
using test::ServeProcess;
using Clock = std::chrono::steady_clock;

namespace {

std::string get(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

std::string post(const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

int statusOf(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return -1;
    return std::stoi(response.substr(9, 3));
}

json bodyOf(const std::string& response) {
    const auto head = response.find("\r\n\r\n");
    if (head == std::string::npos) return json();
    return json::parse(response.substr(head + 4), nullptr, false);
}

json usage(int port) {
    RawConnection c(port);
    REQUIRE(c.send(get("/v1/usage")));
    const std::string r = c.readResponse();
    REQUIRE(statusOf(r) == 200);
    return bodyOf(r);
}

// A fresh client's /healthz and admission, each on a new connection, must
// be answered (within the socket's 5 s bound).
void freshClientIsServed(int port) {
    {
        RawConnection c(port);
        REQUIRE(c.send(get("/healthz")));
        const std::string r = c.readResponse();
        INFO(r);
        CHECK(statusOf(r) == 200);
    }
    {
        RawConnection c(port);
        REQUIRE(c.send(post("/v1/calls", R"({"client_id": "acme"})")));
        const std::string r = c.readResponse();
        INFO(r);
        CHECK(statusOf(r) == 201);
    }
}

void createClient(int port) {
    RawConnection c(port);
    const std::string body = R"({"max_concurrent": 1000})";
    REQUIRE(
        c.send("PUT /v1/clients/acme HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
               "application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body));
    REQUIRE(statusOf(c.readResponse()) == 201);
}

}  // namespace

TEST_SUITE("slow clients") {
    TEST_CASE("64 connections trickling headers leave /healthz and admissions to fresh clients") {
        // A request timeout far beyond the test's waits: what keeps fresh
        // clients served must be thread-per-connection up to the cap, not
        // the slow ones being cut off.
        ServeProcess server({"--request-timeout-ms", "60000"});
        createClient(server.port());
        std::vector<std::unique_ptr<RawConnection>> slow;
        for (int i = 0; i < 64; ++i) {
            slow.push_back(std::make_unique<RawConnection>(server.port()));
            REQUIRE(slow.back()->send("POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        }
        for (int round = 0; round < 3; ++round) {
            for (auto& c : slow) c->send("X");
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            freshClientIsServed(server.port());
        }
        CHECK(usage(server.port())["connections"]["open"].get<int64_t>() >= 64);
    }

    TEST_CASE("200 idle keep-alive connections leave /healthz and admissions to fresh clients") {
        ServeProcess server({"--keep-alive-ms", "60000"});
        createClient(server.port());
        std::vector<std::unique_ptr<RawConnection>> idle;
        for (int i = 0; i < 200; ++i) {
            idle.push_back(std::make_unique<RawConnection>(server.port()));
            REQUIRE(idle.back()->send(get("/healthz")));
            REQUIRE(statusOf(idle.back()->readResponse()) == 200);
        }
        freshClientIsServed(server.port());
        // Still open, and still usable: nothing was closed under a cap of 512.
        REQUIRE(idle.front()->send(get("/healthz")));
        CHECK(statusOf(idle.front()->readResponse()) == 200);
    }

    TEST_CASE(
        "a request whose headers or body outlive --request-timeout-ms gets 408 and is closed") {
        ServeProcess server({"--request-timeout-ms", "1000"});
        createClient(server.port());
        RawConnection headers(server.port(), std::chrono::seconds(10));
        RawConnection body(server.port(), std::chrono::seconds(10));
        REQUIRE(headers.send("POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        REQUIRE(
            body.send("POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: 40\r\n\r\n{\"client_id\""));
        // A byte every 300 ms: each read is quick, the request never ends.
        const auto until = Clock::now() + std::chrono::seconds(3);
        while (Clock::now() < until) {
            headers.send("X");
            body.send(" ");
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
        }
        for (RawConnection* c : {&headers, &body}) {
            const std::string r = c->readResponse();
            INFO(r);
            CHECK(statusOf(r) == 408);
            CHECK(bodyOf(r)["error"]["code"] == "request_timeout");
            CHECK(r.find("Connection: close") != std::string::npos);
            CHECK(c->closedByServer());
        }
        // The half-sent admission was never run.
        RawConnection check(server.port());
        REQUIRE(check.send(get("/v1/calls?client_id=acme")));
        const json calls = bodyOf(check.readResponse());
        CHECK(calls["calls"].empty());
        CHECK(usage(server.port())["connections"]["request_timeouts"] == 2);
    }

    TEST_CASE(
        "beyond --max-connections: 503 overloaded with Retry-After at once, then served "
        "again") {
        // A long request timeout: the held connections must stay held while
        // the test looks, however slow the machine.
        ServeProcess server({"--max-connections", "16", "--request-timeout-ms", "60000"});
        std::vector<std::unique_ptr<RawConnection>> held;
        for (int i = 0; i < 16; ++i) {
            held.push_back(std::make_unique<RawConnection>(server.port()));
            REQUIRE(held.back()->send("GET /healthz HTTP/1.1\r\n"));
        }
        // Once all 16 are being served (their threads wait for the rest of
        // the head), the next connection is answered 503 at once. The server
        // accepts them in order; a few tries allow for it being slow to.
        std::string r;
        for (int attempt = 0; attempt < 20; ++attempt) {
            RawConnection surplus(server.port());
            REQUIRE(surplus.send(get("/healthz")));
            r = surplus.readResponse();
            if (statusOf(r) == 503) {
                CHECK(surplus.closedByServer());
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        INFO(r);
        REQUIRE(statusOf(r) == 503);
        CHECK(r.find("Retry-After: 1") != std::string::npos);
        const json error = bodyOf(r);
        REQUIRE(error.is_object());
        CHECK(error["error"]["code"] == "overloaded");
        CHECK(error["retry_after_ms"] == 1000);
        CHECK(error["error"]["request_id"].is_string());
        // Once the held ones go, new clients are served again: the surplus
        // was never queued behind them.
        held.clear();
        std::string u;
        for (int attempt = 0; attempt < 20 && statusOf(u) != 200; ++attempt) {
            if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            RawConnection later(server.port());
            REQUIRE(later.send(get("/v1/usage")));
            u = later.readResponse();
        }
        INFO(u);
        REQUIRE(statusOf(u) == 200);
        CHECK(bodyOf(u)["connections"]["overloaded"].get<int64_t>() >= 1);
    }

    TEST_CASE(
        "a flood beyond what the rejecter holds: every surplus connection gets its 503 or is "
        "closed, and each one closed unanswered is counted as such") {
        ServeProcess server({"--max-connections", "8", "--request-timeout-ms", "60000"});
        std::vector<std::unique_ptr<RawConnection>> held;
        for (int i = 0; i < 8; ++i) {
            held.push_back(std::make_unique<RawConnection>(server.port()));
            REQUIRE(held.back()->send("GET /healthz HTTP/1.1\r\n"));
        }
        int probes503 = 0;
        for (int attempt = 0; attempt < 20 && probes503 == 0; ++attempt) {
            if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            RawConnection probe(server.port());
            REQUIRE(probe.send(get("/healthz")));
            probes503 += statusOf(probe.readResponse()) == 503;
        }
        REQUIRE(probes503 == 1);
        // More than the rejecter holds (256), connected faster than it lets
        // one go (each is held 0.25 s for its request, then up to 1 s for
        // the client's EOF), saying nothing. A slow machine may let some go
        // early: then another wave, so that some surely find it full.
        int answered = 0, unanswered = 0;
        for (int wave = 0; wave < 5 && unanswered == 0; ++wave) {
            std::vector<std::unique_ptr<RawConnection>> flood;
            for (int i = 0; i < 300; ++i)
                flood.push_back(std::make_unique<RawConnection>(server.port()));
            for (auto& c : flood) {
                const std::string r = c->readResponse();
                if (statusOf(r) == 503) {
                    ++answered;
                } else {
                    INFO(r);
                    // Nothing at all, and closed: not a receive timeout.
                    REQUIRE(r.empty());
                    REQUIRE(c->closedByServer());
                    ++unanswered;
                }
            }
        }
        CHECK(answered >= 256);
        REQUIRE(unanswered > 0);
        held.clear();
        json u;
        for (int attempt = 0; attempt < 20; ++attempt) {
            if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            RawConnection later(server.port());
            REQUIRE(later.send(get("/v1/usage")));
            const std::string r = later.readResponse();
            if (statusOf(r) == 200) {
                u = bodyOf(r)["connections"];
                break;
            }
        }
        REQUIRE(u.is_object());
        CHECK(u["overloaded_unanswered"] == unanswered);
        // The probe, the flood, and any /v1/usage tried while the held
        // connections were still being let go.
        CHECK(u["overloaded"].get<int64_t>() >= probes503 + answered + unanswered);
    }

    TEST_CASE("idle keep-alive connections are closed at once while 3/4 of the cap is in use") {
        ServeProcess server({"--max-connections", "16", "--keep-alive-ms", "60000"});
        std::vector<std::unique_ptr<RawConnection>> idle;
        for (int i = 0; i < 12; ++i) {
            idle.push_back(
                std::make_unique<RawConnection>(server.port(), std::chrono::milliseconds(500)));
            REQUIRE(idle.back()->send(get("/healthz")));
            REQUIRE(statusOf(idle.back()->readResponse()) == 200);
        }
        // 12 of 16 open: under pressure; every idle one is closed, so that a
        // new client finds a thread although the keep-alive is 60 s.
        int closed = 0;
        for (auto& c : idle) closed += c->closedByServer() ? 1 : 0;
        CHECK(closed >= 1);
        RawConnection fresh(server.port());
        REQUIRE(fresh.send(get("/v1/usage")));
        const std::string u = fresh.readResponse();
        REQUIRE(statusOf(u) == 200);
        CHECK(bodyOf(u)["connections"]["idle_closed_early"].get<int64_t>() >= 1);
    }
}

// CPU seconds (user + system) the process has used so far, from /proc.
double cpuSeconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST_SUITE("framing") {
    TEST_CASE("keep-alive connections reset by their clients cost no CPU while idle") {
        // A reset socket polls as an error at once: the idle wait treated it
        // as "nothing yet" and spun until the keep-alive ran out (found with
        // wrk, whose connections end with a reset).
        ServeProcess server({"--keep-alive-ms", "60000"});
        for (int i = 0; i < 32; ++i) {
            RawConnection c(server.port());
            REQUIRE(c.send(get("/healthz")));
            REQUIRE(statusOf(c.readResponse()) == 200);
            c.reset();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const double before = cpuSeconds(server.pid());
        std::this_thread::sleep_for(std::chrono::seconds(2));
        const double used = cpuSeconds(server.pid()) - before;
        INFO("CPU seconds used in 2 s idle: " << used);
        // 32 spinning threads would use the whole machine (> 3 s here).
        CHECK(used < 0.5);
        CHECK(usage(server.port())["connections"]["open"] == 1);  // the usage request itself
    }

    TEST_CASE("a GET with a body is 400 and its connection closed: the body is never a request") {
        // cpp-httplib reads no body for GET: the bytes would be parsed as the
        // next request on the connection (smuggled past a proxy).
        ServeProcess server;
        RawConnection c(server.port());
        const std::string smuggled = get("/v1/usage");
        REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                       std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled));
        const std::string r = c.readResponse();
        INFO(r);
        CHECK(statusOf(r) == 400);
        CHECK(bodyOf(r)["error"]["code"] == "malformed_request");
        CHECK(r.find("Connection: close") != std::string::npos);
        CHECK(c.closedByServer());
    }

    TEST_CASE("Expect: 100-continue with a bad Content-Length still closes the connection") {
        ServeProcess server;
        RawConnection c(server.port());
        REQUIRE(
            c.send("POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                   "Content-Length: -1\r\n\r\n" +
                   get("/v1/usage")));
        const std::string r = c.readResponse();
        INFO(r);
        CHECK(r.find("HTTP/1.1 400") != std::string::npos);
        CHECK(c.closedByServer());
    }
}

TEST_SUITE("blocked stderr") {
    TEST_CASE("a stderr pipe nobody reads does not block requests; dropped lines are counted") {
        // Each request logs an access line of ~250 bytes: 3000 of them are
        // ten times a 64 KiB pipe. Before the log queue, the request that
        // found the pipe full waited for a reader that never came.
        int pipeFds[2];
        REQUIRE(::pipe(pipeFds) == 0);
        test::TempDir dir;
        const int port = test::freePort();
        const pid_t pid = test::spawnCalltrackToFd(
            {"--db", dir.file("x.db"), "serve", "--listen", "127.0.0.1:" + std::to_string(port)},
            pipeFds[1]);
        ::close(pipeFds[1]);
        struct Reap {
            pid_t pid;
            ~Reap() {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        } reap{pid};
        httplib::Client client("127.0.0.1", port);
        client.set_read_timeout(std::chrono::seconds(5));
        client.set_connection_timeout(std::chrono::milliseconds(200));
        bool up = false;
        for (int i = 0; i < 200 && !up; ++i) {
            auto res = client.Get("/healthz");
            up = res && res->status == 200;
            if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE(up);
        client.set_keep_alive(true);
        int answered = 0;
        for (int i = 0; i < 3000; ++i) {
            auto res = client.Get("/healthz");
            if (!res) break;
            answered += res->status == 200 ? 1 : 0;
        }
        CHECK(answered == 3000);
        // The queue holds 16 384 lines: 3000 fit. Let the writer fill the pipe,
        // then more until lines drop.
        for (int i = 0; i < 20000; ++i) {
            auto res = client.Get("/healthz");
            if (!res) break;
            answered += res->status == 200 ? 1 : 0;
        }
        CHECK(answered == 23000);
        auto usage = client.Get("/v1/usage");
        REQUIRE(usage);
        const auto dropped = json::parse(usage->body)["log"]["dropped_lines"].get<int64_t>();
        CHECK(dropped > 0);
        // The same count in /metrics (it can only have grown since).
        auto metrics = client.Get("/metrics");
        REQUIRE(metrics);
        const std::string family = "\ncalltrack_log_lines_dropped_total{";
        const size_t at = metrics->body.find(family);
        REQUIRE_MESSAGE(at != std::string::npos, metrics->body.substr(0, 2000));
        const size_t eol = metrics->body.find('\n', at + 1);
        const std::string sample = metrics->body.substr(at + 1, eol - at - 1);
        INFO(sample);
        CHECK(sample.find("process=\"") != std::string::npos);
        CHECK(std::stod(sample.substr(sample.rfind(' ') + 1)) >= static_cast<double>(dropped));
        // Once someone reads, logging resumes and says what was lost.
        std::string seen;
        char buf[65536];
        const auto until = Clock::now() + std::chrono::seconds(30);
        while (seen.find("log lines dropped") == std::string::npos && Clock::now() < until) {
            pollfd p{pipeFds[0], POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                const ssize_t n = ::read(pipeFds[0], buf, sizeof buf);
                if (n <= 0) break;
                seen.append(buf, static_cast<size_t>(n));
                if (seen.size() > 1'000'000) seen.erase(0, seen.size() - 100'000);
            } else {
                client.Get("/healthz");
            }
        }
        CHECK(seen.find("log lines dropped") != std::string::npos);
        ::close(pipeFds[0]);
    }
}
