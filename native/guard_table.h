// The readonly-view guard's internals shared by guard.cc (the signal
// handlers and their installation) and guard_table.cc (the registered views
// and the swap table the handlers work on, under one spinlock), with the
// counters both bump. guard.h is the guard's interface to the rest of the
// addon; this header is not.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#if defined(__linux__) && defined(__x86_64__)
#define SHMKIT_GUARD 1
#include <sys/types.h>
#include <ucontext.h>
#else
#define SHMKIT_GUARD 0
#endif

namespace shmkit {
namespace guard {

struct Stats {
  std::atomic<uint64_t> stores{0};     // way 1
  std::atomic<uint64_t> strings{0};    // way 2
  std::atomic<uint64_t> swaps{0};      // way 3, pages
  std::atomic<uint64_t> retries{0};    // page busy in another thread's swap
  std::atomic<uint64_t> failures{0};   // an mm call failed in a swap
  std::atomic<uint64_t> chained_segv{0};
  std::atomic<uint64_t> chained_trap{0};
};
extern Stats g_stats;  // guard.cc

#if SHMKIT_GUARD

constexpr greg_t kTrapFlag = 0x100;  // EFLAGS.TF

struct Range {
  uintptr_t start, end;
};

// A page swapped for a private copy until its thread's next single-step trap.
struct Swap {
  uintptr_t page;   // 0: the entry is free
  uintptr_t alias;  // a second mapping of the shared page, to move back
  pid_t tid;
  bool tf_was_set;        // the trap flag was already set by someone else
  bool trap_was_blocked;  // SIGTRAP was blocked in the interrupted code
};

// Four threads with an instruction that touches 16 pages each, or 64 with one.
constexpr int kMaxSwaps = 64;

// guard_table.cc. g_swaps is guarded by the spinlock (Lock, Unlock).
extern Swap g_swaps[kMaxSwaps];
extern std::atomic<int> g_swapped;        // entries in use: most SIGTRAPs skip the lock
extern std::atomic<size_t> g_registered;  // ranges: unregistering skips the lock when 0

// guard.cc: written once, before the handlers are installed.
extern size_t g_page;

// guard_table.cc: the spinlock over the ranges and g_swaps.
void Lock();
void Unlock();

// guard_table.cc, with the lock held: the registered range holding `addr`, if any.
bool FindRange(uintptr_t addr, Range* out);

enum SwapResult { kSwapped, kBusy, kFailed };

// guard_table.cc, way 3, with the lock held: replaces `page` by a private
// copy of its bytes until this thread's next single-step trap.
SwapResult SwapInCopy(uintptr_t page, pid_t tid, ucontext_t* uc);

// guard.cc: installs the handlers on first use. 0, or an errno value with
// *failed_call naming the call that failed.
int Install(const char** failed_call);

#endif  // SHMKIT_GUARD

}  // namespace guard
}  // namespace shmkit
