#pragma once
// The real `calltrack serve` as a child process on a free loopback port, for
// tests that must reach it as clients do (sockets, signals, exit status).

#include "tests/CalltrackProcess.h"
#include "tests/TestSupport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace calltrack::test {

inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A loopback port nobody listened on a moment ago (bind port 0, close).
inline int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// The raw wait status once pid has exited, or nothing after timeout.
inline std::optional<int> waitExit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return std::nullopt;
        if (std::chrono::steady_clock::now() >= until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// waitExit, and a process still running at timeout is killed (SIGKILL) and
// reaped: nothing is left behind whatever the test then asserts.
inline std::optional<int> waitExitOrKill(pid_t pid, std::chrono::milliseconds timeout) {
    auto status = waitExit(pid, timeout);
    if (!status) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    return status;
}

inline std::string describe(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "wait status " + std::to_string(status);
}

// `calltrack --db <file> serve` on a free loopback port, up and answering
// /healthz. Killed with SIGKILL if a test leaves it running.
class ServeProcess {
  public:
    explicit ServeProcess(const std::vector<std::string>& extraArgs = {})
        : ServeProcess(std::string(), extraArgs) {}
    // On the database at `db` (a restart after a crash); a fresh one if empty.
    // `launcher`: see spawnCalltrackWith.
    ServeProcess(const std::string& db, const std::vector<std::string>& extraArgs,
                 const std::vector<std::string>& launcher = {})
        : db_(db.empty() ? dir_.file("x.db") : db), err_(dir_.file("stderr.log")) {
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = freePort();
            std::vector<std::string> args{
                "--db",      db_,  "serve",       "--listen", "127.0.0.1:" + std::to_string(port_),
                "--threads", "64", "--log-level", "info"};
            args.insert(args.end(), extraArgs.begin(), extraArgs.end());
            pid_ = spawnCalltrack(args, dir_.file("stdout.log"), err_, launcher);
            if (waitReady()) return;
            // Exited early: another process took the port between our probe and its bind?
            const std::string log = slurp(err_);
            if (log.find("cannot listen") == std::string::npos) {
                FAIL("calltrack serve did not come up: " << log);
            }
        }
        FAIL("calltrack serve found no free port in 5 attempts: " << slurp(err_));
    }

    ~ServeProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& db() const { return db_; }
    std::string stderrLog() const { return slurp(err_); }
    std::string file(const std::string& name) const { return dir_.file(name); }

    void signal(int sig) { REQUIRE(::kill(pid_, sig) == 0); }

    // The wait status if the process exited within timeout; otherwise kills
    // it with SIGKILL and returns nothing.
    std::optional<int> waitOrKill(std::chrono::milliseconds timeout) {
        auto status = waitExitOrKill(pid_, timeout);
        pid_ = -1;
        return status;
    }

  private:
    // True once GET /healthz answers 200; false if the process exited first.
    bool waitReady() {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            httplib::Client probe("127.0.0.1", port_);
            probe.set_tcp_nodelay(true);
            probe.set_connection_timeout(std::chrono::milliseconds(200));
            if (auto res = probe.Get("/healthz"); res && res->status == 200) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        FAIL("calltrack serve did not answer /healthz within 10 s: " << slurp(err_));
        return false;
    }

    test::TempDir dir_;
    std::string db_;
    std::string err_;
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace calltrack::test
