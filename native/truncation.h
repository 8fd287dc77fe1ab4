// A truncated segment is an error, not a crash: the SIGBUS handler and the
// table of every mapping shmkit made. See truncation.cc.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace shmkit {

// Installs the SIGBUS handler on first use, then records [addr, addr + len)
// as one of our mappings, to be refilled with `prot` zero pages where a
// SIGBUS hits it. 0, or an errno value with *syscall naming the call that
// failed; the caller then unmaps and throws.
int TruncationRegister(void* addr, size_t len, int prot, const char** syscall);

// Forgets the mapping that starts at `addr` (a no-op if there is none).
// Called just before it is unmapped.
void TruncationUnregister(void* addr);

// close() of a SharedArrayBuffer segment: puts private zero pages over
// [addr, addr+len) (one of our mappings, still mapped) and marks it closed,
// both under the handler's lock; it stays registered until unmapped. 0, or
// the errno of mmap.
int TruncationZero(void* addr, size_t len);

// The offset from which the mapping at `addr` reads zeros because a SIGBUS
// hit it (the lowest page replaced so far), or -1 if none did or `addr`
// starts no registered mapping.
int64_t TruncatedFrom(const void* addr);

// Every time the handler repairs a mapping it adds one to each registered
// word, so that JavaScript (lib/segment-truncated.ts) can see with one load
// of an Int32Array that it must ask TruncatedFrom. A word is the first 4 bytes
// of an ArrayBuffer V8 allocated (never an external one; see
// external_buffers.h), registered for the life of its environment.
// False if every slot is taken (the caller then hands out a word that never
// matches, so JavaScript always asks).
bool TruncationWatch(int32_t* word);
void TruncationUnwatch(int32_t* word);

// What the handler has done in this process, for tests.
struct TruncationCounters {
  bool installed;
  uint64_t repaired;  // SIGBUSes in our mappings, answered with zero pages
  uint64_t chained;   // SIGBUSes handed to the previous handler
};
TruncationCounters TruncationReadCounters();

}  // namespace shmkit
