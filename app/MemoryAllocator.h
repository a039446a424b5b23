#pragma once
// The process's malloc, configured once at the top of main(), before any
// thread exists. Release builds link tcmalloc (CALLTRACK_TCMALLOC); the
// sanitizer builds keep glibc's malloc, which their runtimes replace anyway.

namespace calltrack::app {

// Applies calltrack's allocator settings unless the operator set the
// allocator's own environment variable for that setting, which then wins.
void configureMemoryAllocator();

// Gives what the calling thread's allocator cache holds back to the
// process, and free pages back to the system. For a thread about to wait
// long (an idle HTTP connection thread): its cache would otherwise stay
// full until it allocates again.
void releaseThreadMemory();

}  // namespace calltrack::app
