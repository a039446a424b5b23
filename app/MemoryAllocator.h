#pragma once
// The process's malloc, configured once at the top of main(), before any
// thread exists. Release builds link tcmalloc (CALLTRACK_TCMALLOC); the
// sanitizer builds keep glibc's malloc, which their runtimes replace anyway.

namespace calltrack::app {

// Applies calltrack's allocator settings unless the operator set the
// allocator's own environment variable for that setting, which then wins.
void configureMemoryAllocator();

}  // namespace calltrack::app
