#pragma once
// Starts the real `calltrack` binary (CALLTRACK_BINARY) for tests that must
// see it as an operator does: its exit status, stdout and stderr, signals.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace calltrack::test {

// Starts CALLTRACK_BINARY args... with stdout and stderr to files, default
// SIGINT/SIGTERM dispositions and nothing blocked, and without CALLTRACK_*
// variables from our environment (an admin token would close the open API).
// stdout and stderr are set up by `redirect` (file actions on the child).
// A non-empty `launcher` (an absolute path and its arguments, e.g. setpriv
// dropping a capability) runs the binary: it must exec it in place, so the
// pid is calltrack's.
inline pid_t spawnCalltrackWith(const std::vector<std::string>& args,
                                void (*redirect)(posix_spawn_file_actions_t&, const void*),
                                const void* redirectArg,
                                const std::vector<std::string>& launcher = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    redirect(actions, redirectArg);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> storage(launcher);
    storage.push_back(CALLTRACK_BINARY);
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "CALLTRACK_", 10) != 0) envp.push_back(*e);
    }
    envp.push_back(nullptr);

    pid_t pid = -1;
    const std::string& program = storage.front();
    const int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    REQUIRE_MESSAGE(rc == 0, "posix_spawn " << program << ": " << std::strerror(rc));
    return pid;
}

inline pid_t spawnCalltrack(const std::vector<std::string>& args, const std::string& outFile,
                            const std::string& errFile,
                            const std::vector<std::string>& launcher = {}) {
    const std::pair<const std::string*, const std::string*> files{&outFile, &errFile};
    return spawnCalltrackWith(
        args,
        [](posix_spawn_file_actions_t& actions, const void* arg) {
            const auto* f =
                static_cast<const std::pair<const std::string*, const std::string*>*>(arg);
            posix_spawn_file_actions_addopen(&actions, 1, f->first->c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
            posix_spawn_file_actions_addopen(&actions, 2, f->second->c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
        },
        &files, launcher);
}

// stdout to /dev/null, stderr to the descriptor `errFd` (e.g. a pipe's write end).
inline pid_t spawnCalltrackToFd(const std::vector<std::string>& args, int errFd) {
    return spawnCalltrackWith(
        args,
        [](posix_spawn_file_actions_t& actions, const void* arg) {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
            posix_spawn_file_actions_adddup2(&actions, *static_cast<const int*>(arg), 2);
        },
        &errFd);
}

}  // namespace calltrack::test
