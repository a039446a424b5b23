#include "app/MemoryAllocator.h"

#include <cstdlib>
#include <cstring>

#ifdef CALLTRACK_TCMALLOC
#include <gperftools/malloc_extension.h>
#else
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#endif

namespace calltrack::app {

#ifdef CALLTRACK_TCMALLOC

// Why tcmalloc: `serve` runs one thread per connection, and every admission
// allocates on its worker (cpp-httplib's request, header maps, JSON) and on
// the writer. Under glibc those threads share a few arenas behind locks:
// malloc, free and the arena locks were 12 % of the process's CPU. With
// tcmalloc's per-thread caches the CPU per HTTP admission fell by a fifth
// and admissions/s rose 29-43 % (docs/PERFORMANCE.md, issue 13).
//
// Its thread caches together may hold 32 MiB by default; 8 MiB measured as
// fast. gperftools keeps a floor of 512 KiB per thread cache, so past 16
// threads the bound is that floor per thread: connection threads above the
// warm ones exit when idle, and their caches with them.
void configureMemoryAllocator() {
    constexpr size_t kThreadCacheBytes = size_t{8} << 20;
    if (!std::getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))
        MallocExtension::instance()->SetNumericProperty("tcmalloc.max_total_thread_cache_bytes",
                                                        kThreadCacheBytes);
}

// The floor above is per thread: 160 connection threads that each served
// a burst keep up to 80 MiB in their caches while they wait for the next
// connection, and tcmalloc returns a cache only when its thread allocates
// or exits. MarkThreadIdle hands it to the central lists; ReleaseFreeMemory
// then returns whole free pages to the system.
void releaseThreadMemory() {
    MallocExtension::instance()->MarkThreadIdle();
    MallocExtension::instance()->ReleaseFreeMemory();
}

#else

// glibc gives up to 8 arenas per core; a worker that parsed one large request
// (a 1 000-item batch) keeps that memory in its arena. Two per core, at least
// 4, bound the resident set of a build without tcmalloc. (The sanitizers
// replace malloc: there this changes nothing.)
void configureMemoryAllocator() {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (std::getenv("MALLOC_ARENA_MAX") || (tunables && std::strstr(tunables, "arena_max"))) return;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(4L, 2 * cores)));
}

// glibc has no per-thread cache worth returning (its tcache is a few
// dozen blocks) and trims an arena's top by itself.
void releaseThreadMemory() {}

#endif

}  // namespace calltrack::app
