// The readonly-view guard: discards stray writes to readonly views without a
// private copy ever outliving one instruction. See guard.cc.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shmkit {

// True where readonly views are MAP_SHARED + PROT_READ and guarded (x86-64
// Linux). Elsewhere segment.cc keeps the private copy-on-write mapping.
bool GuardSupported();

// Installs the process-wide handlers on first use, then records
// [addr, addr+len) as a readonly view. 0, or an errno value with *syscall
// naming the call that failed; the caller then unmaps and throws.
int GuardRegister(void* addr, size_t len, const char** syscall);

// Forgets [addr, addr+len), waiting for any stray write in flight on it to
// finish, so that the caller may munmap it. A no-op for ranges never registered.
void GuardUnregister(void* addr, size_t len);

// What the guard has done so far in this process, for tests and diagnostics
// (guardStats() in addon.cc).
struct GuardCounters {
  bool supported, installed;
  uint64_t ranges;          // views registered now
  uint64_t swapped_now;     // pages swapped for a copy right now
  uint64_t stores_skipped;  // way 1 in guard.cc
  uint64_t strings_skipped; // way 2
  uint64_t pages_swapped;   // way 3
  uint64_t retries;         // a fault on a page another thread had swapped
  uint64_t failures;        // an mm call that failed during a swap
  uint64_t chained_segv;    // SIGSEGVs handed to the previous handler
  uint64_t chained_trap;    // SIGTRAPs handed on
};
GuardCounters GuardReadCounters();

}  // namespace shmkit
