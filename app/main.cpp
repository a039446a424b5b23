#include "app/CliCommands.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    // glibc gives up to 8 malloc arenas per core, and a `serve` worker thread
    // that parsed one large request (a 1 000-item batch) keeps that memory in
    // its arena. Two per core (at least 4) keep lock contention low and the
    // resident set bounded (with 8 MiB read caches: VmRSS 57.7 -> 52.4 MiB
    // at 100 000 live calls, bench/rss_bench.sh; docs/PERFORMANCE.md, issue
    // 13). An operator's own MALLOC_ARENA_MAX or arena tunable wins.
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (!std::getenv("MALLOC_ARENA_MAX") && !(tunables && std::strstr(tunables, "arena_max"))) {
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        mallopt(M_ARENA_MAX, static_cast<int>(std::max(4L, 2 * cores)));
    }
    return calltrack::app::runCli(argc, argv);
}
