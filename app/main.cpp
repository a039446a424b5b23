#include "app/CliCommands.h"

#include <malloc.h>

int main(int argc, char** argv) {
    // glibc gives up to 8 malloc arenas per core, and a `serve` worker thread
    // that parsed one large request (a 1 000-item batch) keeps that memory in
    // its arena. Four arenas are enough for two cores' worth of contention
    // and keep the resident set bounded (bench/rss_bench.sh: about 10 MiB
    // less at 100 000 live calls; docs/PERFORMANCE.md, issue 13).
    mallopt(M_ARENA_MAX, 4);
    return calltrack::app::runCli(argc, argv);
}
