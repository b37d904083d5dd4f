// The process's resident memory from /proc/self (Linux): current RSS, its high-water mark, and
// resetting that mark so a later reading covers only what ran since. Std-only; 0 / false where
// /proc is unavailable. The mark is process-wide: a reading includes everything the process
// holds (libtorch, other models) and every thread's allocations.
#pragma once
#include <cstdint>

namespace qb {

int64_t processRssBytes();     // VmRSS
int64_t processPeakRssBytes(); // VmHWM
// Writes 5 to /proc/self/clear_refs (the high-water mark restarts from the current RSS).
bool resetProcessPeakRss();
// Returns freed heap pages to the system (glibc malloc_trim), so the RSS after a model is freed
// does not keep counting them.
void releaseFreedMemory();

} // namespace qb
